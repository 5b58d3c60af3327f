"""Confirmation flows end to end: #execute -> pending -> prompts -> answers -> result message."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from host.confirm import Settings
from tests.confirm.fakes import ManualClock
from tests.fixtures.prosody import Prosody
from tests.gateway.world import POLICY
from tests.protocol.harness import (
    CF,
    CONFIRM_RESULT,
    EX,
    STANZAS,
    Parts,
    agent,
    condition,
    el,
    people,
)

pytestmark = pytest.mark.xmpp


def delete(path: str) -> str:
    return f"<execute xmlns='{EX}' skill='fs.delete'><param name='path'>{path}</param></execute>"


def test_yes_from_an_approver_runs_it_and_the_result_follows_by_message(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob", "carol") as [alice, bob, carol],
        ):
            (a.world.workspace / "old.txt").write_text("bye")
            pending = await alice.iq(a.jid, el(delete("old.txt")))
            assert (pending.tag, pending.get("reason")) == (f"{{{EX}}}pending", "confirmation")
            ref = pending.get("ref") or ""
            assert ref.startswith("action-")
            prompt = await bob.prompt()
            assert prompt.get("ref") == ref
            assert (await carol.prompt()).get("id") == prompt.get("id")
            body, result = await bob.said(a.jid, "yes")
            assert body == f"Approved {ref}."
            assert result is not None
            assert (result.get("outcome"), result.get("ref")) == ("approved", ref)
            text, outcome = await alice.result()
            assert (outcome.get("status"), outcome.get("request")) == (
                "ok",
                pending.get("request"),
            )
            assert text.startswith(f"fs.delete ({pending.get('request')}) finished")
            output = outcome.find(f"{{{EX}}}output")
            assert output is not None
            assert json.loads(output.text or "") == {"path": "old.txt", "deleted": "file"}
            assert not (a.world.workspace / "old.txt").exists()
            _late, late_result = await carol.said(a.jid, "yes")
            assert late_result is not None
            assert late_result.get("outcome") == "already-decided"
            assert a.world.events().count("run.started") == 1

    asyncio.run(main())


def test_no_means_not_acceptable_with_the_ref(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            (a.world.workspace / "keep.txt").write_text("stay")
            pending = await alice.iq(a.jid, el(delete("keep.txt")))
            await bob.prompt()
            body, _ = await bob.said(a.jid, "no")
            assert body.startswith("Denied")
            text, outcome = await alice.result()
            assert outcome.get("status") == "error"
            assert outcome.find(f"error/{{{STANZAS}}}not-acceptable") is not None
            denied = outcome.find(f"error/{{{CF}}}denied")
            assert denied is not None
            assert denied.get("ref") == pending.get("ref")
            assert text.endswith("was not run: An approver said no.")
            assert (a.world.workspace / "keep.txt").read_text() == "stay"

    asyncio.run(main())


def test_silence_expires_into_not_acceptable_expired(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        clock = ManualClock()
        settings = Settings(poll_interval_s=0.05)
        async with (
            agent(prosody, domain, tmp_path, parts, clock=clock, settings=settings) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            (a.world.workspace / "keep.txt").write_text("stay")
            pending = await alice.iq(a.jid, el(delete("keep.txt")))
            await bob.prompt()
            clock.advance(61)
            _, outcome = await alice.result()
            expired = outcome.find(f"error/{{{CF}}}expired")
            assert expired is not None
            assert expired.get("ref") == pending.get("ref")
            _body, result = await bob.said(a.jid, "yes")
            assert result is not None
            assert result.get("outcome") == "expired"
            assert (a.world.workspace / "keep.txt").exists()

    asyncio.run(main())


def test_wrong_jid_and_forged_replies_change_nothing(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            pending = await alice.iq(a.jid, el(delete("x.txt")))
            cid = (await bob.prompt()).get("id")
            # The requester is not an approver: her answer is "unknown" and counts for nothing.
            with pytest.raises(IqError) as caught:
                await alice.iq(
                    a.jid, el(f"<confirm-response xmlns='{CF}' id='{cid}' answer='yes'/>")
                )
            assert condition(caught.value) == ("item-not-found", "cancel")
            _body, result = await alice.said(a.jid, f"/approve {pending.get('ref')}")
            assert result is not None
            assert (result.get("outcome"), result.get("ref")) == ("unknown", None)
            # A made-up id, and a malformed answer, from a real approver.
            with pytest.raises(IqError) as caught:
                await bob.iq(
                    a.jid, el(f"<confirm-response xmlns='{CF}' id='{'0' * 32}' answer='yes'/>")
                )
            assert condition(caught.value) == ("item-not-found", "cancel")
            with pytest.raises(IqError) as caught:
                await bob.iq(
                    a.jid, el(f"<confirm-response xmlns='{CF}' id='{cid}' answer='maybe'/>")
                )
            assert condition(caught.value) == ("bad-request", "modify")
            found = a.world.service.get(cid or "")
            assert found is not None
            assert found.state.value == "pending"
            # The real approver's structured reply in an IQ decides it.
            answer = await bob.iq(
                a.jid, el(f"<confirm-response xmlns='{CF}' id='{cid}' answer='no'/>")
            )
            assert (answer.tag, answer.get("outcome")) == (CONFIRM_RESULT, "denied")
            _, outcome = await alice.result()
            assert outcome.get("status") == "error"

    asyncio.run(main())


def test_two_pending_are_answered_by_ref(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            for name in ("one.txt", "two.txt"):
                (a.world.workspace / name).write_text(name)
            first = await alice.iq(a.jid, el(delete("one.txt")))
            second = await alice.iq(a.jid, el(delete("two.txt")))
            await bob.prompt()
            await bob.prompt()
            body, result = await bob.said(a.jid, "yes")
            assert result is not None
            assert result.get("outcome") == "ambiguous"
            assert first.get("ref") in body
            assert second.get("ref") in body
            body, _ = await bob.said(a.jid, f"/deny {first.get('ref')}")
            assert body.startswith("Denied")
            body, _ = await bob.said(a.jid, f"/approve {second.get('ref')}")
            assert body == f"Approved {second.get('ref')}."
            outcomes = {}
            for _ in range(2):
                _, outcome = await alice.result()
                outcomes[outcome.get("request")] = outcome.get("status")
            assert outcomes == {first.get("request"): "error", second.get("request"): "ok"}
            assert (a.world.workspace / "one.txt").exists()
            assert not (a.world.workspace / "two.txt").exists()

    asyncio.run(main())


def test_n_of_m_needs_two_distinct_approvers(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    policy = POLICY.replace("required = 1", "required = 2")

    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts, policy=policy) as a,
            people(prosody, "alice", "bob", "carol") as [alice, bob, carol],
        ):
            (a.world.workspace / "old.txt").write_text("bye")
            await alice.iq(a.jid, el(delete("old.txt")))
            assert (await bob.prompt()).find(f"{{{CF}}}approvals") is not None
            _, result = await bob.said(a.jid, "yes")
            assert result is not None
            assert result.get("outcome") == "accepted"
            _again, result = await bob.said(a.jid, "/approve")
            assert result is not None
            assert result.get("outcome") in ("already-answered", "nothing-pending")
            assert (a.world.workspace / "old.txt").exists()
            await carol.prompt()
            _body, result = await carol.said(a.jid, "yes")
            assert result is not None
            assert result.get("outcome") == "approved"
            _, outcome = await alice.result()
            assert outcome.get("status") == "ok"
            assert not (a.world.workspace / "old.txt").exists()

    asyncio.run(main())


def test_another_agent_uses_the_protocol_and_an_approver_answers_with_the_form(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    bot = "bot@localhost"
    policy = POLICY.replace(
        'requesters = ["alice@localhost"]\neffect = "confirm"',
        f'requesters = ["alice@localhost", "{bot}"]\neffect = "confirm"',
    )

    async def main() -> None:
        async with (
            agent(
                prosody, domain, tmp_path, parts, policy=policy, allowed=(bot, "bob@localhost")
            ) as a,
            people(prosody, "bot", "bob") as [other, bob],
        ):
            (a.world.workspace / "old.txt").write_text("bye")
            pending = await other.iq(a.jid, el(delete("old.txt")))
            cid = (await bob.prompt()).get("id")
            form = el(
                "<x xmlns='jabber:x:data' type='submit'>"
                f"<field var='FORM_TYPE'><value>{CF}</value></field>"
                f"<field var='id'><value>{cid}</value></field>"
                "<field var='answer'><value>yes</value></field></x>"
            )
            msg = bob.make_message(mto=a.jid, mtype="normal")
            msg.append(form)
            msg.send()
            ack = await bob.carrying(CONFIRM_RESULT)
            assert ack.xml.find(CONFIRM_RESULT).get("outcome") == "approved"  # type: ignore[union-attr]
            _, outcome = await other.result()
            assert (outcome.get("status"), outcome.get("request")) == ("ok", pending.get("request"))

    asyncio.run(main())


def test_restart_in_the_middle_never_runs_twice(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        db = tmp_path / "confirm.sqlite"
        async with people(prosody, "alice", "bob", "carol") as [alice, bob, carol]:
            async with agent(prosody, domain, tmp_path, parts, db=db) as a:
                (a.world.workspace / "old.txt").write_text("bye")
                await alice.iq(a.jid, el(delete("old.txt")))
                await bob.prompt()
                await carol.prompt()
                await bob.said(a.jid, "yes")
                _, outcome = await alice.result()
                assert outcome.get("status") == "ok"
                first = await alice.iq(a.jid, el(delete("other.txt")))
                await bob.prompt()
                await carol.prompt()
            # A new process over the same store: the request behind the second one is gone.
            async with agent(prosody, domain, tmp_path, parts, db=db, audit_name="a2.jsonl") as b:
                unfinished = b.world.service.unfinished()
                assert [c.ref for c in unfinished] == [first.get("ref")]
                assert b.world.service.withdraw(unfinished[0].id, "host restarted")
                body, result = await carol.said(b.jid, f"/approve {first.get('ref')}")
                assert result is not None
                assert result.get("outcome") == "already-decided"
                assert body.startswith(f"{first.get('ref')} was already")
                assert "run.started" not in b.world.events()
                # A plain yes could mean either closed one now: it binds to neither.
                body, result = await carol.said(b.jid, "yes")
                assert result is not None
                assert result.get("outcome") == "ambiguous"
            assert a.world.events().count("run.started") == 1

    asyncio.run(main())
