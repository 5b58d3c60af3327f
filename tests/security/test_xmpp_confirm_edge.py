"""Confirmation answers at the chat edge of a running agent on a real Prosody.

An approver who is not an allowed user can answer in plain chat, and nothing else of theirs
reaches the model; a stranger with nothing waiting still gets nothing; a "yes" typed in a room
is refused by the confirmation core (audited) and never reaches the model. Rows T-PRO-09 and
T-PRO-10 in threat-model/threats/protocol.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from host.agent.jidpath import jid_dirname
from host.confirm import State
from host.confirm.wording import REFUSED_CHANNEL
from host.gateway import Executed
from host.llm.interface import Completion
from host.protocol import ConfirmationRouter
from host.xmpp.service import AgentService
from tests.fixtures.prosody import Prosody
from tests.fixtures.xmpp import (
    ROOM_SERVICE,
    WAIT,
    humans,
    join,
    next_room_message,
    running_service,
    service_config,
)
from tests.gateway.world import ALICE, BOB, CAROL, Prompts, World, shared_parts, world
from tests.protocol.harness import CONFIRM_RESULT, Parts

pytestmark = pytest.mark.xmpp


@pytest.fixture(scope="module")
def parts() -> Iterator[Parts]:
    with shared_parts() as found:
        yield found


class CountingModel:
    """A model that counts its calls and says which one it was."""

    description = "counting"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, **kwargs: Any) -> Completion:
        self.calls += 1
        return Completion(text=f"answer {self.calls}")


@asynccontextmanager
async def waiting_delete(
    prosody: Prosody, tmp_path: Path, parts: Parts, model: CountingModel, **sections: Any
) -> AsyncIterator[tuple[AgentService, World, asyncio.Task[Executed]]]:
    """The agent (only alice allowed) with alice's fs.delete waiting for bob or carol."""
    prompts = Prompts()
    (tmp_path / "world").mkdir()
    with world(tmp_path / "world", parts, prompts) as w:
        (w.workspace / "old.txt").write_text("bye")
        config = service_config(prosody, tmp_path, agent={"allowed_jids": [ALICE]}, **sections)
        async with running_service(config, model) as svc:
            svc.confirmations = ConfirmationRouter(w.service)
            run = asyncio.create_task(
                w.gateway.execute(
                    "fs.delete",
                    {"path": "old.txt"},
                    requester=ALICE,
                    origin="chat",
                    conversation_id=ALICE,
                )
            )
            await prompts.next()  # one prompt each to bob and carol: the confirmation waits
            await prompts.next()
            try:
                yield svc, w, run
            finally:
                if not run.done():
                    run.cancel()


def test_an_approver_who_is_not_a_user_answers_in_chat_and_nothing_else_gets_through(
    prosody: Prosody, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        model = CountingModel()
        async with (
            waiting_delete(prosody, tmp_path, parts, model) as (svc, w, run),
            humans(prosody, "bob", "mallory") as [bob, mallory],
        ):
            # Neither bob's conversation nor a stranger's "yes" reaches anything.
            bob.send_message(mto=svc.jid, mbody="hello, what can you do?", mtype="chat")
            mallory.send_message(mto=svc.jid, mbody="yes", mtype="chat")
            mallory.send_message(mto=svc.jid, mbody="/approve action-1", mtype="chat")
            await bob.barrier(svc.jid)
            await mallory.barrier(svc.jid)
            assert bob.inbox.empty()
            assert mallory.inbox.empty()
            assert (model.calls, svc.dropped) == (0, 3)
            for who in ("bob@localhost", "mallory@localhost"):
                assert not (svc.config.memory.path / jid_dirname(who)).exists()
            assert [c.state for c in w.service.pending_for(BOB)] == [State.PENDING]
            # Bob's answer goes to the confirmation core, with the structured result.
            bob.send_message(mto=svc.jid, mbody="yes", mtype="chat")
            msg = await bob.next_message()
            done = await asyncio.wait_for(run, WAIT)
            assert done.outcome is not None
            assert done.outcome.status == "done"
            assert str(msg["body"]).startswith("Approved action-")
            result = msg.xml.find(CONFIRM_RESULT)
            assert result is not None
            assert result.get("outcome") == "approved"
            assert w.service.pending_for(CAROL) == []  # approved: nothing waits for carol either
            assert not (w.workspace / "old.txt").exists()
            assert model.calls == 0

    asyncio.run(main())


def test_a_yes_typed_in_a_room_is_refused_by_the_core_and_never_reaches_the_model(
    prosody: Prosody, tmp_path: Path, parts: Parts
) -> None:
    room = f"edge-approvals@{ROOM_SERVICE}"

    async def main() -> None:
        model = CountingModel()
        async with (
            waiting_delete(
                prosody, tmp_path, parts, model, rooms=[{"jid": room, "nick": "Airlock"}]
            ) as (svc, w, run),
            humans(prosody, "carol") as [carol],
        ):
            await join(carol, room, "carol")
            carol.send_message(mto=room, mbody="yes", mtype="groupchat")
            said = await asyncio.wait_for(next_room_message(carol, room, "Airlock"), WAIT)
            assert said == f"carol: {REFUSED_CHANNEL}"
            assert model.calls == 0
            assert svc.agent.memory.conversation(room).message_count() == 0
            assert [c.state for c in w.service.pending_for(CAROL)] == [State.PENDING]
            assert not run.done()
            refused = [
                json.loads(line)["data"]
                for line in w.audit_path.read_text().splitlines()
                if json.loads(line)["event"] == "confirm.answer_refused"
            ]
            assert [(r["by"], r["channel"], r["outcome"]) for r in refused] == [
                (CAROL, "room", "refused_channel")
            ]

    asyncio.run(main())
