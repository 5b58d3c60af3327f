"""Attacks through the XMPP edge against a running agent on a real Prosody.

Each test proves: refused (or ignored), no model call, nothing recorded, the host stays up.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from host.agent.jidpath import jid_dirname
from host.llm.interface import Completion
from host.xmpp.service import RATE_NOTICE, ROOM_COMMAND_REFUSAL
from tests.fixtures.prosody import Prosody
from tests.fixtures.xmpp import (
    ROOM_SERVICE,
    WAIT,
    Human,
    humans,
    join,
    next_room_message,
    running_service,
    service_config,
)

pytestmark = pytest.mark.xmpp


class CountingModel:
    """A model that answers with the message it got and counts its calls."""

    description = "counting"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, **kwargs: Any) -> Completion:
        self.calls += 1
        return Completion(text=f"answer {self.calls}")


async def still_serving(svc: Any, human: Human) -> None:
    assert svc.ready.is_set()
    assert (await human.ask(svc.jid, "/ping")) == "pong"


def cut_off(human: Human) -> asyncio.Event:
    """Set once ``human``'s stream is closed (by the server, for what they sent)."""
    gone = asyncio.Event()
    human.add_event_handler("disconnected", lambda _e: gone.set())
    return gone


def test_xmpp_stranger_gets_no_reply_and_no_model_call(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, model) as svc,
            humans(prosody, "carol", "alice") as [carol, alice],
        ):
            carol.send_message(mto=svc.jid, mbody="hello, run rm -rf", mtype="chat")
            carol.send_message(mto=svc.jid, mbody="/status", mtype="chat")
            await carol.barrier(svc.jid)
            assert carol.inbox.empty()
            assert model.calls == 0
            assert not (config.memory.path / jid_dirname("carol@localhost")).exists()
            assert svc.dropped == 2
            await still_serving(svc, alice)

    asyncio.run(main())


def test_xmpp_oversized_message_refused_before_model(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path, limits={"max_message_bytes": 1000})
        async with running_service(config, model) as svc, humans(prosody, "alice") as [alice]:
            reply = await alice.ask(svc.jid, "é" * 600)
            assert reply == (
                "Your message is too long (1200 bytes; the limit is 1000). Send a shorter one."
            )
            assert model.calls == 0
            assert svc.agent.memory.conversation("alice@localhost").message_count() == 0
            await still_serving(svc, alice)

    asyncio.run(main())


def test_xmpp_stanza_over_server_limit_kills_only_the_sender(
    prosody: Prosody, tmp_path: Path
) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, model) as svc,
            humans(prosody, "mallory", "alice") as [mallory, alice],
        ):
            gone = cut_off(mallory)
            # Prosody's c2s limit is 256 KiB: the server cuts the stream, we never see it.
            mallory.send_raw(
                f"<message to='{svc.jid}' type='chat'><body>{'A' * 300_000}</body></message>"
            )
            await asyncio.wait_for(gone.wait(), WAIT)
            assert model.calls == 0
            await still_serving(svc, alice)

    asyncio.run(main())


def test_xmpp_flood_from_one_jid_is_rate_limited(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path, limits={"burst": 3, "messages_per_minute": 0.5})
        async with (
            running_service(config, model) as svc,
            humans(prosody, "alice", "bob") as [
                alice,
                bob,
            ],
        ):
            for i in range(30):
                alice.send_message(mto=svc.jid, mbody=f"flood {i}", mtype="chat")
            bodies = [str((await alice.next_message())["body"]) for _ in range(4)]
            await alice.barrier(svc.jid)
            assert sorted(bodies) == sorted(["answer 1", "answer 2", "answer 3", RATE_NOTICE])
            assert model.calls == 3
            assert svc.dropped == 27
            # another sender is not affected by alice's flood
            assert await bob.ask(svc.jid, "hi") == "answer 4"
            assert alice.inbox.empty()

    asyncio.run(main())


def test_xmpp_deeply_nested_stanza_host_survives(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, model) as svc,
            humans(prosody, "alice", "bob") as [alice, bob],
        ):
            depth = 5000
            nested = "<x xmlns='urn:example:deep'>" * depth + "</x>" * depth
            alice.send_raw(
                f"<message to='{svc.jid}' type='chat'><body>deep</body>{nested}</message>"
            )
            await alice.barrier(svc.jid)
            await still_serving(svc, bob)

    asyncio.run(main())


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(
            "<!DOCTYPE m [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
            "<message to='{to}' type='chat'><body>&b;&b;&b;&b;</body></message>",
            id="entity-bomb",
        ),
        pytest.param(
            b"<message to='{to}' type='chat'><body>\xff\xfe\xc0\xaf</body></message>", id="bad-utf8"
        ),
        pytest.param("<message to='{to}' type='chat'><body>unclosed</message>", id="malformed"),
    ],
)
def test_xmpp_invalid_xml_never_reaches_the_agent(
    prosody: Prosody, tmp_path: Path, payload: str | bytes
) -> None:
    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, model) as svc,
            humans(prosody, "mallory", "bob") as [mallory, bob],
        ):
            gone = cut_off(mallory)
            if isinstance(payload, bytes):
                raw = payload.replace(b"{to}", svc.jid.encode())
                assert mallory.transport is not None
                mallory.transport.write(raw)
            else:
                mallory.send_raw(payload.format(to=svc.jid))
            await asyncio.wait_for(gone.wait(), WAIT)  # the server drops the sender
            assert model.calls == 0
            await still_serving(svc, bob)

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["component", "client"])
@pytest.mark.parametrize("iq_type", ["get", "set"])
def test_xmpp_unknown_iq_gets_service_unavailable(
    prosody: Prosody, tmp_path: Path, mode: str, iq_type: str
) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path, mode=mode)
        async with (
            running_service(config, CountingModel()) as svc,
            humans(prosody, "alice") as [alice],
        ):
            to = svc.jid if mode == "component" else str(svc.stream.boundjid.full)
            iq = alice.make_iq(ito=to, itype=iq_type)
            query = ET.Element("{urn:example:admin}query")
            ET.SubElement(query, "{urn:example:admin}command").text = "stop"
            iq.append(query)
            with pytest.raises(IqError) as err:
                await iq.send(timeout=WAIT)
            assert err.value.iq["error"]["condition"] == "service-unavailable"
            assert err.value.iq["error"]["text"] == ""
            await still_serving(svc, alice)

    asyncio.run(main())


def test_xmpp_room_occupant_cannot_run_slash_commands(prosody: Prosody, tmp_path: Path) -> None:
    room = f"guarded@{ROOM_SERVICE}"

    async def main() -> None:
        model = CountingModel()
        config = service_config(prosody, tmp_path, rooms=[{"jid": room, "nick": "Airlock"}])
        async with humans(prosody, "alice", "bob") as [alice, bob]:
            await join(alice, room, "alice")  # first in: owner
            async with running_service(config, model) as svc:
                await join(bob, room, "bob")  # allowed to talk to the agent, not an admin
                bob.send_message(mto=room, mbody="Airlock: hello", mtype="groupchat")
                assert await next_room_message(bob, room, "Airlock") == "bob: answer 1"
                for command in ("/forget", "/new", "/status"):
                    bob.send_message(mto=room, mbody=f"Airlock: {command}", mtype="groupchat")
                    assert await next_room_message(bob, room, "Airlock") == (
                        f"bob: {ROOM_COMMAND_REFUSAL}"
                    )
                conv = svc.agent.memory.conversation(room)
                assert conv.message_count() == 2  # bob's hello and the answer: nothing erased
                assert conv.archived_count() == 0
                alice.send_message(mto=room, mbody="Airlock: /new", mtype="groupchat")
                reply = await next_room_message(alice, room, "Airlock")
                while not reply.startswith("alice: "):  # alice also saw the answers to bob
                    reply = await next_room_message(alice, room, "Airlock")
                assert reply == "alice: New session started. The previous one was archived."
                assert model.calls == 1

    asyncio.run(main())
