"""Skills as XEP-0050 ad-hoc commands, and the ``urn:fluux:agent:0#confirm`` command.

One command per skill the requester could use (node = skill name) whose parameters fit a form
(:func:`host.protocol.forms.supported`); executing it returns the form, completing it is exactly
an ``#execute`` with those arguments (same validation, policy, confirmation and audit). The list
(disco#items on ``http://jabber.org/protocol/commands``) is computed per requester, so it shows
nothing a requester could not use, and nothing at all to a sender who is not allowed.

Sessions are kept in memory, bound to the full JID that started them, for
``SESSION_TTL_S``; at most ``MAX_SESSIONS`` at once (the oldest is dropped first).
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slixmpp import JID
from slixmpp.plugins.xep_0030.stanza.items import DiscoItems
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath

from host.confirm import Channel, MalformedReply, parse_form
from host.confirm.elements import choice_form
from host.protocol.errors import ProtocolError, reply_error
from host.protocol.forms import arguments_from, form_for, supported
from host.protocol.ns import NS_COMMANDS, NS_CONFIRM, NS_DATA, NS_EXECUTE, q

if TYPE_CHECKING:
    from host.protocol.handlers import ProtocolHandlers

__all__ = ["Commands"]

# A person fills a form in minutes; a session left open longer is abandoned.
SESSION_TTL_S = 600.0
# Open sessions across all requesters; each is a few hundred bytes.
MAX_SESSIONS = 1024
CONFIRM_NODE = NS_CONFIRM
NOTHING_WAITS = "Nothing waits for your confirmation."


@dataclass(frozen=True)
class _Session:
    owner: str  # the full JID that started it
    node: str
    started: float


def _command(node: str, session: str, status: str) -> ET.Element:
    return ET.Element(
        q("command", NS_COMMANDS), {"node": node, "sessionid": session, "status": status}
    )


def _note(command: ET.Element, text: str, kind: str = "info") -> ET.Element:
    ET.SubElement(command, q("note", NS_COMMANDS), {"type": kind}).text = text
    return command


class Commands:
    """The ad-hoc command side of :class:`ProtocolHandlers`."""

    def __init__(self, handlers: ProtocolHandlers) -> None:
        self._h = handlers
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def register(self, xmpp: Any) -> None:
        xpath = f"{{{xmpp.default_ns}}}iq/{q('command', NS_COMMANDS)}"
        xmpp.register_handler(CoroutineCallback("agent commands", MatchXPath(xpath), self._iq))
        self._list_on(xmpp)
        # A client's full JID is known only once bound; the handler is keyed by it.
        xmpp.add_event_handler("session_bind", lambda _jid: self._list_on(xmpp))

    def _list_on(self, xmpp: Any) -> None:
        disco = xmpp.plugin["xep_0030"]
        disco.set_node_handler("get_items", JID(xmpp.boundjid.full), NS_COMMANDS, self._items)

    # -- listing -------------------------------------------------------------------------------

    def _items(self, jid: Any, node: Any, ifrom: Any, data: Any) -> DiscoItems:
        items = DiscoItems()
        items["node"] = NS_COMMANDS
        who = str(ifrom.bare).lower() if ifrom is not None else ""
        me = JID(self._h.xmpp.boundjid.full if self._h.xmpp is not None else str(jid))
        if self._h.allows(who):
            for m in self._h.gateway.offered(who, {"protocol"}):
                if supported(m) is None:
                    items.add_item(me, node=m.name, name=m.description[:100])
        if self._h.router is not None and (self._h.allows(who) or self._h.router.waits_for(who)):
            items.add_item(me, node=CONFIRM_NODE, name="Answer a pending confirmation")
        return items

    # -- sessions ------------------------------------------------------------------------------

    def _open(self, owner: str, node: str) -> str:
        now = time.monotonic()
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.started <= SESSION_TTL_S and len(self._sessions) < MAX_SESSIONS:
                break
            self._sessions.popitem(last=False)
        session = f"cmd-{secrets.token_hex(8)}"
        self._sessions[session] = _Session(owner, node, now)
        return session

    def _take(self, session: str, owner: str, node: str) -> None:
        found = self._sessions.get(session)
        expired = found is not None and time.monotonic() - found.started > SESSION_TTL_S
        if found is None or expired or found.owner != owner or found.node != node:
            # Someone else's session looks exactly like no session.
            raise ProtocolError("item-not-found", "cancel", "No such command session.")
        del self._sessions[session]

    # -- execution -----------------------------------------------------------------------------

    async def _iq(self, iq: Any) -> None:
        if iq["type"] != "set":
            if iq["type"] == "get":
                reply_error(iq, ProtocolError.bad_request("commands are executed with type set"))
            return
        element = iq.xml.find(q("command", NS_COMMANDS))
        node = element.get("node") or ""
        action = element.get("action") or "execute"
        session = element.get("sessionid")
        who = str(iq["from"].bare).lower()
        owner = str(iq["from"])
        try:
            if node == CONFIRM_NODE:
                if self._h.router is None or not (
                    self._h.allows(who) or self._h.router.waits_for(who)
                ):
                    raise ProtocolError("not-authorized", "auth", "You are not allowed.")
            elif not self._h.allows(who):
                raise ProtocolError("not-authorized", "auth", "You are not allowed.")
            if action == "cancel" and session:
                self._take(session, owner, node)
                self._reply(iq, _command(node, session, "canceled"))
                return
            if session is None:
                self._start(iq, node, who, owner)
                return
            if action not in ("execute", "complete"):
                raise ProtocolError.bad_request(f"action {action[:20]!r} is not offered")
            self._take(session, owner, node)
            form = element.find(q("x", NS_DATA))
            if form is None:
                raise ProtocolError.bad_request("complete the command with the submitted form")
            if node == CONFIRM_NODE:
                self._answer(iq, form, who, session)
            else:
                await self._complete(iq, form, node, who, session)
        except ProtocolError as exc:
            reply_error(iq, exc)

    def _reply(self, iq: Any, command: ET.Element) -> None:
        reply = iq.reply(clear=True)
        reply.append(command)
        reply.send()

    def _start(self, iq: Any, node: str, who: str, owner: str) -> None:
        if node == CONFIRM_NODE:
            assert self._h.router is not None
            waiting = self._h.router.pending(who)
            if not waiting:
                self._reply(iq, _note(_command(node, "none", "completed"), NOTHING_WAITS))
                return
            form = choice_form(waiting)
        else:
            manifest = self._h.gateway.manifest(node, who, {"protocol"})
            if manifest is None or supported(manifest) is not None:
                raise ProtocolError("item-not-found", "cancel", "No such command.")
            form = form_for(manifest)
        session = self._open(owner, node)
        command = _command(node, session, "executing")
        actions = ET.SubElement(command, q("actions", NS_COMMANDS), {"execute": "complete"})
        ET.SubElement(actions, q("complete", NS_COMMANDS))
        command.append(form)
        self._reply(iq, command)

    def _answer(self, iq: Any, form: ET.Element, who: str, session: str) -> None:
        assert self._h.router is not None
        try:
            reply = parse_form(form, channel=Channel.FORM)
        except MalformedReply as exc:
            raise ProtocolError.bad_request(exc.message) from None
        if reply is None:  # a cancelled form: not an answer, the confirmation stays pending
            self._reply(iq, _command(CONFIRM_NODE, session, "canceled"))
            return
        result = self._h.router.answer(who, reply)
        self._reply(iq, _note(_command(CONFIRM_NODE, session, "completed"), result.reply_text))

    async def _complete(self, iq: Any, form: ET.Element, node: str, who: str, session: str) -> None:
        manifest = self._h.gateway.manifest(node, who, {"protocol"})
        if manifest is None:
            raise ProtocolError("item-not-found", "cancel", "No such command.")
        arguments = arguments_from(form, manifest)

        def done(element: ET.Element) -> None:
            output = element.find(q("output", NS_EXECUTE))
            status = element.get("status", "ok")
            text = output.text if output is not None and output.text else status
            kind = "info" if status == "ok" else "error"
            command = _note(_command(node, session, "completed"), text or "", kind)
            command.append(element)
            self._reply(iq, command)

        def pending(element: ET.Element) -> None:
            if element.get("reason") == "running":
                text = "Still running; the result will follow in a message."
            else:
                text = (
                    f"Waiting for confirmation {element.get('ref')} (expires "
                    f"{element.get('expires')}); the result will follow in a message."
                )
            command = _note(_command(node, session, "completed"), text)
            command.append(element)
            self._reply(iq, command)

        await self._h.run(iq, node, arguments, who, answer=done, pending=pending)
