"""PolicyGateway and XmppConfirmer over the real pipeline, policy, audit log and sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from host.agent.actions import ToolCall, ToolOutcome
from host.confirm import Channel, Reply, Settings, parse_text
from host.gateway import ConfirmTrace, PolicyGateway
from host.pipeline import Runner
from host.skills.registry import SkillRegistry
from sandbox.spec import HostCallHandler, RunResult, RunSpec, Status
from tests.confirm.fakes import ManualClock
from tests.gateway.world import ALICE, BOB, CAROL, MALLORY, POLICY, Prompts, world

Parts = tuple[SkillRegistry, Runner]


def said(text: str) -> Reply:
    """What a plain chat message from an approver parses to."""
    reply = parse_text(text, channel=Channel.DIRECT_CHAT)
    assert isinstance(reply, Reply)
    return reply


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="t1", name=name, arguments=arguments)


async def ask(gw: PolicyGateway, name: str, who: str = ALICE, **arguments: object) -> ToolOutcome:
    return await gw.request(call(name, **arguments), requester=who, origin="chat",
                            conversation_id=who)  # fmt: skip


def test_tools_are_what_the_policy_could_ever_allow(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        with world(tmp_path, parts, Prompts()) as w:
            names = {who: [t.name for t in w.gateway.tools_for(who)] for who in (ALICE, BOB)}
            assert names == {ALICE: ["calc", "echo", "fs.delete", "fs.list"], BOB: ["echo"]}
            assert w.gateway.tools_for(MALLORY) == []
            echo = w.gateway.tools_for(BOB)[0]
            assert echo.parameters["required"] == ["text"]

    asyncio.run(main())


def test_always_denied_and_unreachable_quorum_are_not_offered(tmp_path: Path, parts: Parts) -> None:
    policy = (
        POLICY
        + f"""
[[rule]]
id = "never-calc"
skills = ["calc"]
requesters = ["{ALICE}"]
effect = "deny"
reason = "no arithmetic"

[[rule]]
id = "bob-deletes"
skills = ["fs.delete"]
requesters = ["{BOB}"]
effect = "confirm"
[rule.confirm]
approvers = ["{BOB}"]
"""
    )

    async def main() -> None:
        with world(tmp_path, parts, Prompts(), policy=policy) as w:
            assert [t.name for t in w.gateway.tools_for(ALICE)] == ["echo", "fs.delete", "fs.list"]
            # Bob's only approver is Bob: four eyes make that rule deny him every time.
            assert [t.name for t in w.gateway.tools_for(BOB)] == ["echo"]

    asyncio.run(main())


def test_allowed_call_runs_in_the_sandbox(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        with world(tmp_path, parts, Prompts()) as w:
            out = await ask(w.gateway, "echo", text="hi there")
            assert (out.status, json.loads(out.text_for_model)) == ("done", {"text": "hi there"})
            assert out.request_id is not None
            assert w.events() == ["request.received", "policy.decision", "run.started",
                                  "run.result"]  # fmt: skip

    asyncio.run(main())


def test_refusals_say_why_and_what_to_do(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        with world(tmp_path, parts, Prompts()) as w:
            bad = await ask(w.gateway, "echo", text=5)
            assert bad.status == "invalid"
            assert bad.text_for_model.startswith("The arguments were refused: argument `text`")
            denied = await ask(w.gateway, "echo", text="x" * 150)
            assert denied.status == "denied"
            assert "Not permitted: no policy rule allows skill echo" in denied.text_for_model
            unknown = await ask(w.gateway, "calc", who=BOB, expression="1+1")
            assert (unknown.status, unknown.request_id) == ("invalid", None)
            assert "no tool named 'calc'" in unknown.text_for_model
            for _ in range(2):
                assert (await ask(w.gateway, "calc", expression="1+1")).status == "done"
            limited = await ask(w.gateway, "calc", expression="1+1")
            assert limited.status == "rate_limited"
            assert "rate limit of rule calc-alice reached" in limited.text_for_model

    asyncio.run(main())


class BrokenSandbox:
    def __call__(self, spec: RunSpec, host_calls: HostCallHandler | None) -> RunResult:
        from host.errors import SandboxError

        raise SandboxError("cannot start the child: /srv/secret/path is unreadable")


class FailingChild:
    def __call__(self, spec: RunSpec, host_calls: HostCallHandler | None) -> RunResult:
        return RunResult(status=Status.SANDBOX_ERROR, error="child died reading /srv/secret/x")


@pytest.mark.parametrize(
    ("runner", "last"), [(BrokenSandbox(), "error"), (FailingChild(), "run.result")]
)
def test_internal_errors_give_an_incident_id_and_nothing_else(
    tmp_path: Path, parts: Parts, runner: Runner, last: str
) -> None:
    async def main() -> None:
        with world(tmp_path, (parts[0], runner), Prompts()) as w:
            out = await ask(w.gateway, "echo", text="hi")
            assert out.status == "failed"
            assert out.text_for_model.startswith("The host failed while handling this request")
            assert "/srv/secret" not in out.text_for_model
            assert w.events()[-1] == last

    asyncio.run(main())


def test_confirmed_action_runs_once_after_an_approver_says_yes(
    tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        prompts = Prompts()
        with world(tmp_path, parts, prompts) as w:
            (w.workspace / "old.txt").write_text("bye")
            task = asyncio.create_task(ask(w.gateway, "fs.delete", path="old.txt"))
            seen = {(await prompts.next())[0], (await prompts.next())[0]}
            assert seen == {BOB, CAROL}
            assert next(p.id for p in w.gateway.pending_for(BOB)).startswith("action-")
            result = w.service.answer(BOB, said("yes"))
            assert result.outcome.value == "approved"
            out = await task
            assert (out.status, json.loads(out.text_for_model)) == (
                "done",
                {"path": "old.txt", "deleted": "file"},
            )
            assert not (w.workspace / "old.txt").exists()
            late = w.service.answer(CAROL, said("yes"))
            assert late.outcome.value == "already_decided"
            assert w.events().count("run.started") == 1
            assert w.events().count("confirm.claimed") == 1

    asyncio.run(main())


def test_no_from_an_approver_means_not_run(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        prompts = Prompts()
        with world(tmp_path, parts, prompts) as w:
            (w.workspace / "keep.txt").write_text("stay")
            task = asyncio.create_task(ask(w.gateway, "fs.delete", path="keep.txt"))
            await prompts.next()
            w.service.answer(CAROL, said("no"))
            out = await task
            assert out.status == "not_confirmed"
            assert out.text_for_model.startswith("Not run: an approver said no (action-")
            assert (w.workspace / "keep.txt").read_text() == "stay"
            assert "run.started" not in w.events()

    asyncio.run(main())


def test_silence_expires_and_is_no(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        clock = ManualClock()
        prompts = Prompts()
        settings = Settings(poll_interval_s=0.05)
        with world(tmp_path, parts, prompts, clock=clock, settings=settings) as w:
            (w.workspace / "keep.txt").write_text("stay")
            task = asyncio.create_task(ask(w.gateway, "fs.delete", path="keep.txt"))
            await prompts.next()
            clock.advance(61)
            out = await task
            assert out.status == "not_confirmed"
            assert "nobody approved it before it expired" in out.text_for_model
            assert (w.workspace / "keep.txt").exists()
            assert "confirm.expired" in w.events()

    asyncio.run(main())


def test_a_full_queue_refuses_to_ask_again(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        prompts = Prompts()
        settings = Settings(max_pending_per_requester=1)
        with world(tmp_path, parts, prompts, settings=settings) as w:
            first = asyncio.create_task(ask(w.gateway, "fs.delete", path="a"))
            await prompts.next()
            trace = ConfirmTrace()
            second = await w.gateway.execute(
                "fs.delete", {"path": "b"}, requester=ALICE, origin="chat",
                conversation_id=ALICE, trace=trace,
            )  # fmt: skip
            assert second.queue_full
            assert trace.refused is not None
            assert "already has 1 actions waiting" in trace.refused
            w.service.answer(BOB, said("no"))
            assert (await first).status == "not_confirmed"
            assert w.events().count("confirm.ask_refused") == 1

    asyncio.run(main())


def test_runs_go_on_while_many_confirmations_wait(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        prompts = Prompts()
        settings = Settings(max_pending_per_requester=10)
        with world(tmp_path, parts, prompts, settings=settings) as w:
            waiting = [
                asyncio.create_task(ask(w.gateway, "fs.delete", path=f"f{n}")) for n in range(8)
            ]
            for _ in range(16):  # two approvers per confirmation
                await prompts.next()
            # Eight worker threads wait for people; an unrelated run still gets one.
            out = await asyncio.wait_for(ask(w.gateway, "echo", text="still here"), 15)
            assert json.loads(out.text_for_model) == {"text": "still here"}
            for c in w.service.pending_for(BOB):
                w.service.withdraw(c.id, "test over")
            assert {(await t).status for t in waiting} == {"not_confirmed"}

    asyncio.run(main())
