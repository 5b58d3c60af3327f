"""The agent as the XMPP edge sees it: one call per accepted message, one reply (or none).

:meth:`Agent.handle` takes a message that already passed the edge's checks (access, rate,
size), runs a slash command or the model loop, records the exchange in memory, and returns the
text to send. Messages of one conversation are handled one at a time (a lock per conversation),
so history stays in order; different conversations run concurrently.
"""

from __future__ import annotations

import logging
import secrets
import time
import weakref
from asyncio import Lock
from dataclasses import dataclass

from host.agent.actions import ActionGateway, NoPending, Origin, PendingLister
from host.agent.commands import CommandContext, is_command, run_command
from host.agent.loop import AgentLoop, LoopLimits
from host.agent.memory import Conversation, MemoryStore, Turn
from host.agent.prompt import system_prompt
from host.errors import LlmError
from host.llm.interface import ChatMessage, LlmProvider

__all__ = ["Agent", "Inbound"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """An accepted message.

    ``conversation`` is the memory key (the user's bare JID, or the room's JID); ``requester``
    is who asks (the bare JID the policy decides for). In rooms, ``addressed`` says whether the
    agent was mentioned (only then it answers) and ``sender`` is the occupant's nick.
    """

    conversation: str
    requester: str
    text: str
    origin: Origin = "chat"
    sender: str = ""
    addressed: bool = True


class Agent:
    """Sessions, slash commands and the model loop, for any number of conversations."""

    def __init__(
        self,
        *,
        memory: MemoryStore,
        provider: LlmProvider,
        gateway: ActionGateway,
        name: str = "Airlock",
        pending: PendingLister | None = None,
        limits: LoopLimits | None = None,
        history_messages: int = 40,
        mode: str = "component",
    ) -> None:
        self.memory = memory
        self.provider = provider
        self.gateway = gateway
        self.pending = pending or NoPending()
        self.name = name
        self.loop = AgentLoop(provider, gateway, limits or LoopLimits())
        self.history_messages = history_messages
        self.mode = mode
        self.started = time.monotonic()
        self._locks: weakref.WeakValueDictionary[str, Lock] = weakref.WeakValueDictionary()

    def _lock(self, key: str) -> Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, msg: Inbound) -> str | None:
        """Process ``msg``; return the reply, or None when the agent stays silent (a room
        message that does not mention it)."""
        async with self._lock(msg.conversation):
            conv = self.memory.conversation(msg.conversation)
            now = self.memory.clock()
            conv.archive_if_idle(now)
            if msg.addressed and is_command(msg.text):
                return run_command(msg.text, self._context(conv, msg.requester))
            conv.append(Turn(ts=now, role="user", text=msg.text, sender=msg.sender))
            if not msg.addressed:
                return None
            reply = await self._answer(conv, msg)
            conv.append(Turn(ts=self.memory.clock(), role="assistant", text=reply))
            return reply

    async def _answer(self, conv: Conversation, msg: Inbound) -> str:
        room = msg.conversation if msg.origin == "room" else None
        history = [
            ChatMessage(
                role=t.role,
                text=f"{t.sender}: {t.text}" if room and t.role == "user" and t.sender else t.text,
            )
            for t in conv.turns(self.history_messages)
        ]
        try:
            result = await self.loop.run(
                system=system_prompt(conv, agent_name=self.name, room=room),
                history=_alternating(history),
                requester=msg.requester,
                origin=msg.origin,
                conversation_id=msg.conversation,
            )
        except LlmError as exc:
            incident = secrets.token_hex(4)
            log.error("model call failed", extra={"incident": incident, "error": str(exc)})
            return f"Sorry, the model is not answering right now (incident {incident})."
        return result.text

    def _context(self, conv: Conversation, requester: str) -> CommandContext:
        return CommandContext(
            conversation=conv,
            requester=requester,
            gateway=self.gateway,
            pending=self.pending,
            mode=self.mode,
            model=self.provider.description,
            started=self.started,
            now=self.memory.clock,
        )


def _alternating(history: list[ChatMessage]) -> list[ChatMessage]:
    """Merge consecutive turns of one role (room chatter, a lost reply) into one, and drop
    leading assistant turns: providers such as Anthropic require user/assistant alternation
    starting with the user."""
    merged: list[ChatMessage] = []
    for m in history:
        if merged and merged[-1].role == m.role:
            merged[-1] = ChatMessage(role=m.role, text=merged[-1].text + "\n" + m.text)
        else:
            merged.append(m)
    while merged and merged[0].role != "user":
        merged.pop(0)
    return merged
