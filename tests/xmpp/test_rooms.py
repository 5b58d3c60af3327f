"""Group chat (XEP-0045) against the real Prosody MUC service."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from tests.fixtures.prosody import Prosody
from tests.fixtures.scripts import scripted
from tests.fixtures.xmpp import (
    ROOM_SERVICE,
    humans,
    join,
    next_room_message,
    running_service,
    service_config,
)

pytestmark = pytest.mark.xmpp
ROOMS = itertools.count()
ECHO = {"turns": [{"text": "Heard: {user}"}]}


@pytest.mark.parametrize("mode", ["client", "component"])
def test_room_records_context_and_answers_mentions(
    prosody: Prosody, tmp_path: Path, mode: str
) -> None:
    room = f"lobby{next(ROOMS)}-{mode}@{ROOM_SERVICE}"

    async def main() -> None:
        config = service_config(
            prosody, tmp_path, mode=mode, rooms=[{"jid": room, "nick": "Airlock"}]
        )
        async with humans(prosody, "alice", "carol") as [alice, carol]:
            await join(alice, room, "alice")  # first in: owner
            async with running_service(config, scripted(ECHO)) as svc:
                await join(carol, room, "carol")
                carol.send_message(mto=room, mbody="Airlock: I am not allowed", mtype="groupchat")
                # the room is the referee of order: wait until it has relayed carol's line
                assert await next_room_message(alice, room, "carol") == "Airlock: I am not allowed"
                alice.send_message(mto=room, mbody="just chatting", mtype="groupchat")
                alice.send_message(mto=room, mbody="@Airlock summarise", mtype="groupchat")
                reply = await next_room_message(alice, room, "Airlock")
                assert reply.startswith("alice: Heard: ")
                assert "carol: Airlock: I am not allowed" in reply
                assert "alice: just chatting" in reply
                assert reply.endswith("alice: summarise")
                alice.send_message(mto=room, mbody="Airlock: /ping", mtype="groupchat")
                assert await next_room_message(alice, room, "Airlock") == "alice: pong"
                history = svc.agent.memory.conversation(room).turns(10)
                assert [t.sender for t in history] == ["carol", "alice", "alice", ""]

    asyncio.run(main())


def test_room_persona_file_overrides_global(prosody: Prosody, tmp_path: Path) -> None:
    room = f"persona{next(ROOMS)}@{ROOM_SERVICE}"
    seen: list[str] = []
    provider = scripted(ECHO)
    original = provider.complete

    async def spy(**kwargs: object) -> object:
        seen.append(str(kwargs["system"]))
        return await original(**kwargs)  # type: ignore[arg-type]

    provider.complete = spy  # type: ignore[method-assign]

    async def main() -> None:
        config = service_config(prosody, tmp_path, rooms=[{"jid": room, "nick": "Airlock"}])
        memory = config.memory.path
        (memory / room).mkdir(parents=True)
        (memory / "identity.md").write_text("I am the global agent.")
        (memory / room / "identity.md").write_text("I am the lobby support bot.")
        async with humans(prosody, "alice") as [alice]:
            await join(alice, room, "alice")
            async with running_service(config, provider):
                alice.send_message(mto=room, mbody="Airlock, who are you?", mtype="groupchat")
                assert await next_room_message(alice, room, "Airlock") == (
                    "alice: Heard: alice: who are you?"
                )
        assert seen[0].startswith("I am the lobby support bot.")
        assert f"You are in the group chat {room}." in seen[0]

    asyncio.run(main())
