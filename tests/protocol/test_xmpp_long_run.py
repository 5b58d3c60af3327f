"""A run slower than the pending threshold: the IQ is answered with ``<pending
reason='running'/>`` at once, and the result follows by message under the same request id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from host.protocol.running import PendingAfterError, check_pending_after
from host.skills.build import build
from host.skills.registry import SkillRegistry
from tests.fixtures.prosody import Prosody
from tests.gateway.world import ALICE
from tests.protocol.harness import EX, Parts, agent, condition, el, people

# Spins 150 million rounds (1.2 G fuel: about 0.25 s here, five times the test's
# 50 ms threshold, under its own limits), then prints its result.
SPIN_WAT = """
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 64) "{\\"spun\\":true}")
  (func (export "_start")
    (local $i i32)
    (loop $again
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 150000000))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""
SPIN_TOML = """
name = "spin"
version = "0.1.0"
description = "Spins a while, then says so."
destructive = false
[parameters]
type = "object"
additionalProperties = false
properties = {}
[result]
type = "object"
required = ["spun"]
properties.spun = { type = "boolean" }
[limits]
fuel = 2_000_000_000
memory_mb = 16
timeout_s = 10.0
max_host_calls = 0
"""
POLICY = f"""
[[rule]]
id = "spin"
skills = ["spin"]
requesters = ["{ALICE}"]
effect = "allow"
"""


@pytest.fixture(scope="module")
def spin_parts(parts: Parts, tmp_path_factory: pytest.TempPathFactory) -> Parts:
    root = tmp_path_factory.mktemp("spin-skills")
    (root / "spin").mkdir()
    (root / "spin" / "skill.toml").write_text(SPIN_TOML)
    (root / "spin" / "main.wat").write_text(SPIN_WAT)
    build(root / "spin")
    return SkillRegistry.load(root), parts[1]


@pytest.mark.xmpp
def test_a_slow_run_answers_pending_then_delivers_the_result_by_message(
    prosody: Prosody, domain: str, tmp_path: Path, spin_parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, spin_parts, policy=POLICY, pending_after_s=0.05) as a,
            people(prosody, "alice") as [alice],
        ):
            pending = await alice.iq(a.jid, el(f"<execute xmlns='{EX}' skill='spin'/>"))
            assert (pending.tag, pending.get("reason")) == (f"{{{EX}}}pending", "running")
            request = pending.get("request") or ""
            assert len(request) >= 16
            assert set(pending.attrib) == {"request", "reason"}
            text, result = await alice.result()
            assert (result.get("status"), result.get("request"), result.get("skill")) == (
                "ok",
                request,
                "spin",
            )
            assert text == f'spin ({request}) finished: {{"spun": true}}'
            output = result.find(f"{{{EX}}}output")
            assert output is not None
            assert json.loads(output.text or "") == {"spun": True}
            audited = [
                json.loads(line)
                for line in a.world.audit_path.read_text().splitlines()
                if json.loads(line)["event"] == "run.result"
            ]
            assert [r["request_id"] for r in audited] == [request]

    asyncio.run(main())


@pytest.mark.xmpp
def test_a_slow_run_that_is_refused_still_answers_in_the_iq(
    prosody: Prosody, domain: str, tmp_path: Path, spin_parts: Parts
) -> None:
    """Refusals come before any run: they are IQ errors, never a pending reference."""

    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, spin_parts, policy=POLICY, pending_after_s=0.05) as a,
            people(prosody, "bob") as [bob],
        ):
            with pytest.raises(IqError) as refused:
                await bob.iq(a.jid, el(f"<execute xmlns='{EX}' skill='spin'/>"))
            assert condition(refused.value) == ("item-not-found", "cancel")

    asyncio.run(main())


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf"), 31.0])
def test_the_pending_threshold_must_be_finite_and_small(seconds: float) -> None:
    with pytest.raises(PendingAfterError, match=r"pending_after_s is .* it must be over 0"):
        check_pending_after(seconds)
    assert check_pending_after(2.0) == 2.0


@pytest.mark.xmpp
def test_a_slow_skill_command_completes_with_a_note_and_the_result_follows(
    prosody: Prosody, domain: str, tmp_path: Path, spin_parts: Parts
) -> None:
    cmd, data = "http://jabber.org/protocol/commands", "jabber:x:data"

    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, spin_parts, policy=POLICY, pending_after_s=0.05) as a,
            people(prosody, "alice") as [alice],
        ):
            first = await alice.iq(a.jid, el(f"<command xmlns='{cmd}' node='spin'/>"))
            session = first.get("sessionid")
            form = (
                f"<x xmlns='{data}' type='submit'><field var='FORM_TYPE'><value>{EX}</value>"
                "</field></x>"
            )
            done = await alice.iq(
                a.jid,
                el(
                    f"<command xmlns='{cmd}' node='spin' action='complete' "
                    f"sessionid='{session}'>{form}</command>"
                ),
            )
            assert done.get("status") == "completed"
            note = done.find(f"{{{cmd}}}note")
            assert note is not None
            assert note.text == "Still running; the result will follow in a message."
            pending = done.find(f"{{{EX}}}pending")
            assert pending is not None
            assert pending.get("reason") == "running"
            _text, result = await alice.result()
            assert (result.get("status"), result.get("request")) == ("ok", pending.get("request"))

    asyncio.run(main())
