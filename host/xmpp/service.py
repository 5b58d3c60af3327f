"""The XMPP edge of ``airlock serve``: every inbound message is checked here before the agent.

Order of checks for a one-to-one message (each one drops or refuses before the next runs):

1. ``type='error'`` messages and messages without a body are ignored (never answered: no loops).
2. The sender's bare JID must be in ``allowed_jids`` or ``allowed_domains``, or have a
   confirmation waiting for their answer (an approver the deployer did not list as a user).
   Anyone else gets no reply at all: a refusal would confirm the agent exists to anyone
   probing, and would let a spoofed-sender flood bounce replies at a victim. The drop is logged.
3. Per-sender rate limit (token bucket); the first dropped message of a run gets one notice.
4. Size: a body over ``max_message_bytes`` is refused with a reply saying the limit.
5. An answer to a confirmation waiting for the sender ("yes", "no", ``/approve REF``...) goes
   to the confirmation core (``confirmations``), and never reaches the model; the reply
   carries the structured ``<confirm-result/>`` as well as the text.
6. An approver who is not an allowed user stops here: their other text is dropped as a
   stranger's, never shown to the model.
7. The agent handles it (slash command or model loop) and the reply goes back.

Room messages: the room must be configured; the agent's own echoes and delayed (history)
messages are skipped; each occupant's lines pass their own rate limit (dropped lines are not
recorded); every other message is recorded for context; the agent answers only when
mentioned by an occupant allowed to trigger it; slash commands need a room owner, admin or
approver, others get a short refusal. A line that reads as a confirmation answer ("yes",
``/approve REF``) from an occupant with a confirmation waiting for them goes to the
confirmation core as a room answer, which refuses it (and audits the refusal): a room is not a
verified channel. The line never reaches the model. Concurrency is bounded by
``max_concurrent_messages``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import xml.etree.ElementTree as ET
from typing import Any, Protocol

from slixmpp import JID

from host.agent.actions import ActionGateway, PendingLister
from host.agent.agent import Agent, Inbound
from host.agent.commands import is_command
from host.agent.loop import LoopLimits
from host.agent.memory import MemoryStore
from host.config import Config
from host.llm.interface import LlmProvider
from host.xmpp.access import AccessList
from host.xmpp.backoff import Backoff
from host.xmpp.connection import AirlockClient, build_stream
from host.xmpp.ratelimit import RateLimiter
from host.xmpp.reconnect import Reconnector
from host.xmpp.rooms import RoomRules, strip_mention

__all__ = ["AgentService", "ConfirmationText"]

log = logging.getLogger(__name__)
RATE_NOTICE = (
    "You are sending messages faster than I accept them; some were ignored. Wait a minute."
)
ROOM_COMMAND_REFUSAL = "Slash commands here are for room owners, admins and approvers."
INTERNAL_ERROR = "Something went wrong on my side (incident {incident}); nothing was run."
# Concurrent conversations being answered; more wait their turn. Each holds a model call, so
# this bounds memory and provider load under a burst from many allowed senders.
MAX_CONCURRENT_MESSAGES = 16
ROOM_JOIN_TIMEOUT_SECS = 15.0  # a MUC service slower than this to answer a join is broken


class RoutedText(Protocol):
    """The confirmation core's reply to a chat line (host.protocol.Routed)."""

    @property
    def text(self) -> str: ...

    @property
    def element(self) -> ET.Element | None: ...


class ConfirmationText(Protocol):
    """Takes chat text that answers a confirmation (host.protocol.ConfirmationRouter)."""

    def waits_for(self, sender: str) -> bool:
        """Whether a confirmation waits for ``sender``'s answer (read-only)."""
        ...

    def route_text(self, sender: str, body: str, *, room: bool = False) -> RoutedText | None:
        """The reply if ``body`` from ``sender`` was about a confirmation, else None; ``room``
        marks a group-chat line, which the core refuses as an answer."""
        ...


class AgentService:
    """One XMPP connection serving one :class:`Agent`."""

    def __init__(self, config: Config, agent: Agent) -> None:
        self.config = config
        self.agent = agent
        self.stream = build_stream(config.server, config.agent.name, rooms=bool(config.rooms))
        self.access = AccessList(config.agent.allowed_jids, config.agent.allowed_domains)
        limits = config.limits
        self.limiter = RateLimiter(
            per_minute=limits.messages_per_minute,
            burst=limits.burst,
            max_keys=limits.max_tracked_senders,
        )
        self.rooms = {
            r.jid: RoomRules.build(r, self.access, config.agent.approvers) for r in config.rooms
        }
        self.reconnector = Reconnector(
            self.stream,
            Backoff(base=1.0, cap=config.server.reconnect_max_delay_secs),
            host=config.server.host,
            port=config.server.effective_port,
        )
        self.ready = asyncio.Event()
        # Set when retrying cannot help (TLS or SASL refused, bad component secret).
        self.fatal: str | None = None
        self.failed = asyncio.Event()
        self.dropped = 0
        # Set by `airlock serve`: "yes", "no", /approve REF... are taken here, never by the model.
        self.confirmations: ConfirmationText | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_MESSAGES)
        self.stream.add_event_handler("session_start", self._session_start)
        self.stream.add_event_handler("session_resumed", lambda _e: self.ready.set())
        self.stream.add_event_handler("disconnected", lambda _e: self.ready.clear())
        self.stream.add_event_handler("message", self._message)
        self.stream.add_event_handler("groupchat_message", self._groupchat)
        self.stream.add_event_handler("airlock_refused", self._give_up)
        self.stream.add_event_handler("failed_all_auth", self._give_up)
        self.stream.add_event_handler("stream_error", self._stream_error)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        gateway: ActionGateway,
        provider: LlmProvider,
        pending: PendingLister | None = None,
    ) -> AgentService:
        """Wire memory, the agent loop and the XMPP edge; ``gateway`` is the capability path."""
        limits = config.limits
        agent = Agent(
            memory=MemoryStore(
                config.memory.path, idle_timeout_mins=config.session.idle_timeout_mins
            ),
            provider=provider,
            gateway=gateway,
            name=config.agent.name,
            pending=pending,
            limits=LoopLimits(
                max_tool_rounds=limits.max_tool_rounds,
                max_tool_calls_per_turn=limits.max_tool_calls_per_turn,
                max_tool_result_chars=limits.max_tool_result_chars,
                max_tokens=config.llm.max_tokens_per_request,
            ),
            history_messages=limits.history_messages,
            mode=config.server.mode,
        )
        return cls(config, agent)

    def _give_up(self, _event: Any) -> None:
        self.fatal = self.refusal or "authentication failed (check [server] jid and password)"
        self.reconnector.stop()
        self.failed.set()

    def _stream_error(self, error: Any) -> None:
        if error["condition"] in ("not-authorized", "host-unknown", "invalid-namespace"):
            self.fatal = (
                f"the server closed the stream: {error['condition']} "
                "(check component_domain and component_secret against the server's config)"
            )
            self.reconnector.stop()
            self.failed.set()

    @property
    def jid(self) -> str:
        """The address people write to (bare JID in client mode, the domain in component)."""
        return str(self.stream.boundjid.bare)

    @property
    def refusal(self) -> str | None:
        """Why the client refused the server (certificate, no STARTTLS, no SCRAM), if it did."""
        return self.stream.refusal if isinstance(self.stream, AirlockClient) else None

    def start(self) -> None:
        """Connect (and keep reconnecting); returns at once."""
        self.reconnector.connect()

    async def stop(self) -> None:
        """Disconnect cleanly and stop reconnecting."""
        self.reconnector.stop()
        self.ready.clear()
        await self.stream.disconnect(wait=1.0)

    # -- session ---------------------------------------------------------------------------

    async def _session_start(self, _event: Any) -> None:
        if isinstance(self.stream, AirlockClient):
            self.stream.send_presence()
        joins = [
            self._muc().join_muc(JID(jid), rules.room.nick, **self._pfrom())
            for jid, rules in self.rooms.items()
        ]
        if joins:
            # Ready once in the rooms (so nothing said there is missed), but a room that does not
            # answer must not keep one-to-one chats down.
            _joined, pending = await asyncio.wait(joins, timeout=ROOM_JOIN_TIMEOUT_SECS)
            for future in pending:
                future.cancel()
            if pending:
                log.warning("some rooms were not joined", extra={"missing": len(pending)})
        self.ready.set()

    def _muc(self) -> Any:
        return self.stream.plugin["xep_0045"]

    def _pfrom(self) -> dict[str, Any]:
        # A component joins rooms from its own domain JID, which slixmpp wants named for the
        # join; the room roster is kept per stream either way.
        if isinstance(self.stream, AirlockClient):
            return {}
        return {"pfrom": self.stream.boundjid}

    # -- one-to-one ------------------------------------------------------------------------

    async def _message(self, msg: Any) -> None:
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        sender = str(msg["from"].bare).lower()
        allowed = self.access.allows(sender)
        # An approver need not be an allowed user: their answers (and only those) get through.
        approver = not allowed and self._waits_for(sender)
        if not allowed and not approver:
            self.dropped += 1
            log.info("dropped message from a JID not allowed", extra={"from": sender})
            return
        verdict = self.limiter.check(sender)
        if not verdict.allowed:
            self.dropped += 1
            log.info("rate limited", extra={"from": sender})
            if verdict.notify:
                msg.reply(RATE_NOTICE).send()
            return
        body: str = msg["body"]
        limit = self.config.limits.max_message_bytes
        size = len(body.encode("utf-8", "surrogatepass"))
        if size > limit:
            msg.reply(
                f"Your message is too long ({size} bytes; the limit is {limit}). "
                "Send a shorter one."
            ).send()
            return
        if self.confirmations is not None:
            routed = self.confirmations.route_text(sender, body)
            if routed is not None:
                answer = msg.reply(routed.text)
                if routed.element is not None:
                    answer.append(routed.element)
                answer.send()
                return
        if not allowed:
            self.dropped += 1
            log.info("dropped non-answer from an approver not allowed", extra={"from": sender})
            return
        reply = await self._handle(Inbound(conversation=sender, requester=sender, text=body))
        if reply:
            msg.reply(reply).send()

    def _waits_for(self, sender: str) -> bool:
        return self.confirmations is not None and self.confirmations.waits_for(sender)

    async def _handle(self, inbound: Inbound) -> str | None:
        async with self._slots:
            try:
                return await self.agent.handle(inbound)
            except Exception:
                incident = secrets.token_hex(4)
                log.exception("message handling failed", extra={"incident": incident})
                return INTERNAL_ERROR.format(incident=incident)

    # -- rooms -----------------------------------------------------------------------------

    async def _groupchat(self, msg: Any) -> None:
        room = str(msg["from"].bare).lower()
        rules = self.rooms.get(room)
        nick = msg["mucnick"]
        body: str = msg["body"]
        if rules is None or not body or nick == rules.room.nick:
            return
        if msg.xml.find("{urn:xmpp:delay}delay") is not None:
            return  # room history replayed on join: context we did not see live, not a request
        if len(body.encode("utf-8", "surrogatepass")) > self.config.limits.max_message_bytes:
            return
        real = self._muc().get_jid_property(room, nick, "jid")
        real_jid = str(real.bare).lower() if real else None
        affiliation = self._muc().get_jid_property(room, nick, "affiliation")
        text = strip_mention(body, rules.room.nick)
        addressed = text is not None and rules.may_trigger(real_jid)
        requester = real_jid or f"{room}/{nick}"
        # Every occupant's lines count against their own bucket, addressed or not: each one is
        # written to the room's history, so a chatty flood must not fill the disk either.
        if not self.limiter.check(requester).allowed:
            self.dropped += 1
            return
        if real_jid is not None and self.confirmations is not None:
            routed = self.confirmations.route_text(real_jid, body, room=True)
            if routed is not None:
                # The core refused it as a room answer (audited); say so to the speaker only.
                self._room_send(room, f"{nick}: {routed.text}")
                return
        if addressed:
            assert text is not None
            if is_command(text) and not rules.may_command(real_jid, affiliation):
                self._room_send(room, f"{nick}: {ROOM_COMMAND_REFUSAL}")
                return
        inbound = Inbound(
            conversation=room,
            requester=requester,
            text=text if addressed and text is not None else body,
            origin="room",
            sender=nick,
            addressed=addressed,
        )
        reply = await self._handle(inbound)
        if reply:
            self._room_send(room, f"{nick}: {reply}")

    def _room_send(self, room: str, text: str) -> None:
        self.stream.send_message(mto=JID(room), mbody=text, mtype="groupchat", **self._mfrom())

    def _mfrom(self) -> dict[str, Any]:
        if isinstance(self.stream, AirlockClient):
            return {}
        return {"mfrom": self.stream.boundjid}
