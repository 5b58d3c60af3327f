"""Group chats (XEP-0045): when the agent is addressed, and who in a room may do what.

The agent answers a room message only when it mentions the agent's nick, as ``@nick`` anywhere
or ``nick:`` / ``nick,`` at the start. Who may trigger it is the room's ``allowed`` list (or the
agent's own lists when the room has none), matched against the occupant's *real* JID, which a
room only shows when it is non-anonymous: an occupant whose real JID is hidden never triggers the
agent unless the room sets ``unsafe_allow_any_occupant``. Slash commands in a room are for room
owners and admins (by MUC affiliation) and the configured approvers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from host.config import RoomConfig
from host.xmpp.access import AccessList

__all__ = ["RoomRules", "strip_mention"]

COMMAND_AFFILIATIONS = frozenset({"owner", "admin"})


def strip_mention(text: str, nick: str) -> str | None:
    """The message without the mention of ``nick``, or None when ``nick`` is not mentioned."""
    n = re.escape(nick)
    lead = re.match(rf"^\s*@?{n}\s*[:,]\s*", text, re.IGNORECASE)
    if lead:
        return text[lead.end() :].strip()
    at = re.search(rf"(?<![\w@]){'@'}{n}(?!\w)", text, re.IGNORECASE)
    if at:
        return (text[: at.start()].rstrip() + " " + text[at.end() :].lstrip()).strip()
    return None


@dataclass(frozen=True)
class RoomRules:
    """The access rules of one configured room."""

    room: RoomConfig
    triggers: AccessList
    approvers: frozenset[str]

    @classmethod
    def build(cls, room: RoomConfig, agent_access: AccessList, approvers: list[str]) -> RoomRules:
        """Rules for ``room``; an empty ``allowed`` falls back to the agent's lists."""
        triggers = AccessList.of(room.allowed) if room.allowed else agent_access
        return cls(room=room, triggers=triggers, approvers=frozenset(approvers))

    def may_trigger(self, real_jid: str | None) -> bool:
        """Whether an occupant with this real bare JID (None when hidden) may trigger the agent."""
        if self.room.unsafe_allow_any_occupant:
            return True
        return real_jid is not None and self.triggers.allows(real_jid)

    def may_command(self, real_jid: str | None, affiliation: str | None) -> bool:
        """Whether the occupant may run slash commands here."""
        if affiliation in COMMAND_AFFILIATIONS:
            return True
        return real_jid is not None and real_jid.lower() in self.approvers
