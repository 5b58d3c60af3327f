"""The agent protocol on a slixmpp stream: ``#skills``, ``#execute``, ``#confirm``, disco, commands.

::

    handlers = ProtocolHandlers(gateway, router, allows=access.allows)
    handlers.register(stream)           # a ComponentXMPP or a ClientXMPP (with xep_0030 loaded)

Every handler takes the requester from the stanza's ``from``, which the server sets (a client
cannot choose it; a component is only routed stanzas for its own domain), reduced to the bare
JID. Nothing in a payload ever names the requester. Access is the same as chat: ``allows`` (the
edge's allowed JIDs and domains); a sender outside it gets ``not-authorized`` and nothing else.
Confirmation answers are also taken from a sender with a confirmation waiting for them (an
approver the deployer did not list as a user).
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath

from host.confirm import Channel, MalformedReply, Outcome, parse_confirm_response, parse_form
from host.confirm.elements import confirm_result
from host.gateway import Executed, PolicyGateway
from host.protocol.commands import Commands
from host.protocol.errors import ProtocolError, reply_error
from host.protocol.execute import (
    error_element,
    error_for,
    parse_execute,
    pending_element,
    result_element,
    skill_of,
)
from host.protocol.ns import FEATURES, NS_CONFIRM, NS_DATA, NS_EXECUTE, NS_SKILLS, q
from host.protocol.routing import ConfirmationRouter
from host.protocol.running import PENDING_AFTER_S, check_pending_after, run_or_defer
from host.protocol.skills import skills_query

__all__ = ["ProtocolHandlers"]

log = logging.getLogger(__name__)
PROTOCOL_ORIGINS = frozenset({"protocol"})
NOT_ALLOWED = "You are not allowed to use this agent."
UNKNOWN_SKILL = "No such skill is available to you."


def requester_of(stanza: Any) -> str:
    """The verified bare JID of the sender, lower-cased as the access list compares it."""
    return str(stanza["from"].bare).lower()


def reply_with(iq: Any, element: ET.Element) -> None:
    reply = iq.reply(clear=True)
    reply.append(element)
    reply.send()


def result_text(skill: str, done: Executed) -> str:
    """The ``<body/>`` of a deferred result, for clients that show only text."""
    o = done.outcome
    rid = o.request_id if o is not None else "no request"
    if o is not None and o.answer is not None and done.incident is None:
        shown = json.dumps(o.answer.as_json(), ensure_ascii=False)[:1000]
        verb = "finished" if o.answer.ok else "failed"
        return f"{skill} ({rid}) {verb}: {shown}"
    return f"{skill} ({rid}) was not run: {error_for(done).text}"


class ProtocolHandlers:
    """Registers the protocol's handlers on one stream."""

    def __init__(
        self,
        gateway: PolicyGateway,
        router: ConfirmationRouter | None,
        *,
        allows: Callable[[str], bool],
        pending_after_s: float = PENDING_AFTER_S,
    ) -> None:
        """``pending_after_s``: how long an ``#execute`` (or skill command) waits for its run
        before answering with ``<pending reason='running'/>`` (the result then follows by
        message); over 0 and at most 30 s, default 2 s."""
        self.pending_after_s = check_pending_after(pending_after_s)
        self.gateway = gateway
        self.router = router
        self.allows = allows
        self.commands = Commands(self)
        self.xmpp: Any = None

    def register(self, xmpp: Any) -> None:
        """Install the IQ, message, disco and command handlers on ``xmpp``."""
        self.xmpp = xmpp
        ns = xmpp.default_ns
        routes = [
            ("skills", f"{{{ns}}}iq/{{{NS_SKILLS}}}query", self._skills),
            ("execute", f"{{{ns}}}iq/{{{NS_EXECUTE}}}execute", self._execute),
            ("confirm iq", f"{{{ns}}}iq/{q('confirm-response', NS_CONFIRM)}", self._confirm_iq),
            ("confirm msg", f"{{{ns}}}message/{q('confirm-response', NS_CONFIRM)}", self._msg),
            ("confirm form", f"{{{ns}}}message/{q('x', NS_DATA)}", self._msg),
        ]
        for name, xpath, handler in routes:
            xmpp.register_handler(CoroutineCallback(f"agent {name}", MatchXPath(xpath), handler))
        disco = xmpp.plugin["xep_0030"]
        for feature in FEATURES:
            disco.add_feature(feature)
        self.commands.register(xmpp)

    # -- #skills -----------------------------------------------------------------------------

    async def _skills(self, iq: Any) -> None:
        if iq["type"] != "get":
            if iq["type"] == "set":
                reply_error(iq, ProtocolError.bad_request("#skills is queried with type get"))
            return
        who = requester_of(iq)
        if not self.allows(who):
            reply_error(iq, ProtocolError("not-authorized", "auth", NOT_ALLOWED))
            return
        reply_with(iq, skills_query(self.gateway.offered(who, PROTOCOL_ORIGINS)))

    # -- #execute ----------------------------------------------------------------------------

    async def _execute(self, iq: Any) -> None:
        if iq["type"] != "set":
            if iq["type"] == "get":
                reply_error(iq, ProtocolError.bad_request("#execute is sent with type set"))
            return
        who = requester_of(iq)
        if not self.allows(who):
            reply_error(iq, ProtocolError("not-authorized", "auth", NOT_ALLOWED))
            return
        element = iq.xml.find(q("execute", NS_EXECUTE))
        try:
            skill = skill_of(element)
            manifest = self.gateway.manifest(skill, who, PROTOCOL_ORIGINS)
            if manifest is None:
                raise ProtocolError("item-not-found", "cancel", UNKNOWN_SKILL)
            request = parse_execute(element, manifest)
        except ProtocolError as exc:
            reply_error(iq, exc)
            return
        await self.run(iq, skill, request.arguments, who, answer=lambda e: reply_with(iq, e))

    async def run(
        self,
        iq: Any,
        skill: str,
        arguments: dict[str, Any],
        who: str,
        *,
        answer: Callable[[ET.Element], None],
        pending: Callable[[ET.Element], None] | None = None,
    ) -> None:
        """Run and answer ``iq``: the result, an error, or a pending reference followed by a
        result message to the requesting full JID."""
        to = iq["from"]

        async def later(done: Executed) -> None:
            o = done.outcome
            try:
                element = result_element(skill, done)
            except ProtocolError as exc:
                element = error_element(skill, o.request_id if o else None, exc)
            msg = self.xmpp.make_message(mto=to, mbody=result_text(skill, done), mtype="normal")
            if self.xmpp.is_component:
                msg["from"] = self.xmpp.boundjid
            msg.append(element)
            msg.send()

        outcome = await run_or_defer(
            self.gateway,
            skill,
            arguments,
            requester=who,
            later=later,
            pending_after_s=self.pending_after_s,
        )
        if not isinstance(outcome, Executed):
            (pending or answer)(pending_element(outcome))
            return
        try:
            answer(result_element(skill, outcome))
        except ProtocolError as exc:
            reply_error(iq, exc)

    # -- #confirm ----------------------------------------------------------------------------

    def _may_answer(self, who: str) -> bool:
        return self.router is not None and (self.allows(who) or self.router.waits_for(who))

    async def _confirm_iq(self, iq: Any) -> None:
        if iq["type"] != "set":
            if iq["type"] == "get":
                reply_error(iq, ProtocolError.bad_request("confirm-response is sent with type set"))
            return
        who = requester_of(iq)
        if self.router is None or not self._may_answer(who):
            reply_error(iq, ProtocolError("not-authorized", "auth", NOT_ALLOWED))
            return
        try:
            reply = parse_confirm_response(iq.xml.find(q("confirm-response", NS_CONFIRM)))
        except MalformedReply as exc:
            reply_error(iq, ProtocolError.bad_request(exc.message))
            return
        result = self.router.answer(who, reply)
        if result.outcome in (Outcome.UNKNOWN, Outcome.NOT_APPROVER):
            reply_error(iq, ProtocolError("item-not-found", "cancel", result.reply_text))
            return
        reply_with(iq, confirm_result(result))

    async def _msg(self, msg: Any) -> None:
        """A ``<confirm-response/>`` or a submitted confirmation form in a message."""
        if msg["type"] == "error":
            return
        who = requester_of(msg)
        if self.router is None or not self._may_answer(who):
            return  # strangers get no reply, as in chat
        room = msg["type"] == "groupchat"
        structured = msg.xml.find(q("confirm-response", NS_CONFIRM))
        try:
            if structured is not None:
                parsed = parse_confirm_response(
                    structured, channel=Channel.ROOM if room else Channel.STRUCTURED
                )
            else:
                form = msg.xml.find(q("x", NS_DATA))
                maybe = parse_form(form, channel=Channel.ROOM if room else Channel.FORM)
                if maybe is None:
                    return  # another form type, or a cancelled form: not an answer
                parsed = maybe
        except MalformedReply as exc:
            if not room:
                self._say(msg, f"That confirmation reply is malformed: {exc.message}.")
            return
        result = self.router.answer(who, parsed)
        if room:
            return  # refused by the core (room channel); nothing is said in front of the room
        reply = self.xmpp.make_message(mto=msg["from"], mbody=result.reply_text, mtype="chat")
        if self.xmpp.is_component:
            reply["from"] = msg["to"]
        reply.append(confirm_result(result))
        reply.send()

    def _say(self, msg: Any, text: str) -> None:
        reply = self.xmpp.make_message(mto=msg["from"], mbody=text, mtype="chat")
        if self.xmpp.is_component:
            reply["from"] = msg["to"]
        reply.send()
