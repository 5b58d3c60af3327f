"""The agent as a component on the Prosody fixture, with the protocol handlers on the real
capability path, and people (slixmpp clients) who talk to it."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slixmpp.exceptions import IqError
from slixmpp.stanza import Message

from host.config import ServerConfig
from host.pipeline import Runner
from host.protocol import ConfirmationRouter, ProtocolHandlers
from host.protocol.notify import StreamNotifier
from host.protocol.running import PENDING_AFTER_S
from host.skills.registry import SkillRegistry
from host.xmpp.access import AccessList
from host.xmpp.connection import build_stream
from tests.fixtures.prosody import COMPONENT_SECRET, Prosody
from tests.fixtures.xmpp import WAIT, Human
from tests.gateway.world import ALICE, BOB, CAROL, World, shared_parts, world

Parts = tuple[SkillRegistry, Runner]

# The wire names as docs/protocol.md spells them, written out here rather than imported from
# host/, so that a renamed constant there fails these tests instead of following along.
EX = "urn:fluux:agent:0#execute"
SK = "urn:fluux:agent:0#skills"
CF = "urn:fluux:agent:0#confirm"
CMD = "http://jabber.org/protocol/commands"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
CONFIRM = f"{{{CF}}}confirm"
CONFIRM_RESULT = f"{{{CF}}}confirm-result"
RESULT = f"{{{EX}}}result"


def execute(skill: str, **params: str) -> str:
    """An ``<execute/>`` request for ``skill`` with one ``<param/>`` per keyword."""
    inner = "".join(f"<param name='{k}'>{v}</param>" for k, v in params.items())
    return f"<execute xmlns='{EX}' skill='{skill}'>{inner}</execute>"


@pytest.fixture(scope="module")
def parts() -> Iterator[Parts]:
    with shared_parts() as found:
        yield found


@pytest.fixture(scope="session")
def domain(prosody: Prosody) -> str:
    """One component domain for the session (Prosody has few); each test connects and cleanly
    disconnects it."""
    return prosody.new_component()


@dataclass
class Agent:
    stream: Any
    world: World
    handlers: ProtocolHandlers

    @property
    def jid(self) -> str:
        return str(self.stream.boundjid.bare)


@asynccontextmanager
async def agent(
    prosody: Prosody,
    domain: str,
    tmp_path: Path,
    parts: Parts,
    *,
    allowed: tuple[str, ...] = (ALICE, BOB, CAROL),
    pending_after_s: float = PENDING_AFTER_S,
    **world_options: Any,
) -> AsyncIterator[Agent]:
    cfg = ServerConfig(
        host="127.0.0.1",
        port=prosody.component_port,
        mode="component",
        component_domain=domain,
        component_secret=SecretStr(COMPONENT_SECRET),
    )
    stream = build_stream(cfg, "Airlock")
    ready = asyncio.Event()
    stream.add_event_handler("session_start", lambda _e: ready.set())
    with world(tmp_path, parts, StreamNotifier(stream), **world_options) as w:
        handlers = ProtocolHandlers(
            w.gateway,
            ConfirmationRouter(w.service),
            allows=AccessList(allowed).allows,
            pending_after_s=pending_after_s,
        )
        handlers.register(stream)
        stand_in_for_the_edge(stream, handlers)
        stream.connect()
        try:
            await asyncio.wait_for(ready.wait(), WAIT)
            yield Agent(stream, w, handlers)
        finally:
            gone = asyncio.Event()
            stream.add_event_handler("disconnected", lambda _e: gone.set())
            await stream.disconnect(wait=1.0)
            await asyncio.wait_for(gone.wait(), WAIT)


def stand_in_for_the_edge(stream: Any, handlers: ProtocolHandlers) -> None:
    """What host/xmpp/service.py does with a chat body before the agent sees it: route it to
    the confirmation core (the agent itself is not part of these tests)."""
    router = handlers.router
    assert router is not None

    async def on_message(msg: Message) -> None:
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        who = str(msg["from"].bare).lower()
        if not (handlers.allows(who) or router.waits_for(who)):
            return
        routed = router.route_text(who, str(msg["body"]))
        if routed is not None:
            reply = msg.reply(routed.text)
            if routed.element is not None:
                reply.append(routed.element)
            reply.send()

    stream.add_event_handler("message", on_message)


class Person(Human):
    """A person's client that also speaks XEP-0050 and keeps body-less messages too."""

    def __init__(self, prosody: Prosody, user: str) -> None:
        super().__init__(prosody, user)
        self.register_plugin("xep_0050")
        self.register_plugin("xep_0004")

    def _message(self, msg: Message) -> None:
        if msg.xml.find("{urn:xmpp:delay}delay") is None:
            self.inbox.put_nowait(msg)

    async def iq(self, to: str, payload: ET.Element, kind: str = "set") -> ET.Element:
        """Send one IQ with ``payload``; the reply's first child (IqError if an error)."""
        iq = self.make_iq_set(ito=to) if kind == "set" else self.make_iq_get(ito=to)
        iq.append(payload)
        reply = await iq.send(timeout=WAIT)
        children = list(reply.xml)
        return children[0] if children else ET.Element("empty")

    async def carrying(self, tag: str) -> Message:
        """The next message with a child element ``tag`` (Clark notation); others skipped."""
        while True:
            msg = await self.next_message()
            if msg.xml.find(tag) is not None:
                return msg

    async def prompt(self) -> ET.Element:
        """The ``<confirm/>`` element of the next confirmation prompt."""
        msg = await self.carrying(CONFIRM)
        found = msg.xml.find(CONFIRM)
        assert found is not None
        return found

    async def said(self, to: str, text: str) -> tuple[str, ET.Element | None]:
        """Send chat ``text``; the reply's body and its ``<confirm-result/>``, if any."""
        self.send_message(mto=to, mbody=text, mtype="chat")
        while True:
            msg = await self.next_message()
            if msg["body"] and msg.xml.find(CONFIRM) is None and msg.xml.find(RESULT) is None:
                return str(msg["body"]), msg.xml.find(CONFIRM_RESULT)

    async def result(self) -> tuple[str, ET.Element]:
        """The next deferred ``#execute`` result message: its body and ``<result/>``."""
        msg = await self.carrying(RESULT)
        found = msg.xml.find(RESULT)
        assert found is not None
        return str(msg["body"]), found


@asynccontextmanager
async def people(prosody: Prosody, *users: str) -> AsyncIterator[list[Person]]:
    found = [Person(prosody, u) for u in users]
    try:
        await asyncio.gather(*(p.start() for p in found))
        yield found
    finally:
        await asyncio.gather(*(p.stop() for p in found), return_exceptions=True)


def condition(exc: IqError) -> tuple[str, str]:
    """The (condition, type) of an IQ error."""
    return str(exc.iq["error"]["condition"]), str(exc.iq["error"]["type"])


def el(xml: str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 (XML literals the test itself wrote)
