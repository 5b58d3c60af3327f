"""A host killed mid-flow (SIGKILL, no cleanup) leaves a store the next process can trust."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from host.confirm import Channel, ConfirmationStore, Decision, Reply, State, Target
from tests.confirm.fakes import ALICE, BOB, DIGEST, ManualClock, ask, open_service

# Enough flows that the kill lands mid-way through one; each flow is a few commits.
FLOWS_BEFORE_KILL = 40


def _run_flows(path: Path, report: Connection) -> None:
    """Ask, approve (two of two), claim, forever; report each claim once it has returned."""
    svc = open_service(path, ManualClock(now=datetime.now(UTC)))
    for i in range(10**6):
        c = ask(svc, request_id=f"req-{i}", approvers=[ALICE, BOB], required=2).confirmation
        for jid in (ALICE, BOB):
            reply = Reply(decision=Decision.YES, channel=Channel.FORM, target=Target(id=c.id))
            svc.answer(jid, reply)
        if svc.claim_for_execution(c.id, DIGEST):
            report.send(c.id)
        # Leave some confirmations pending or approved-unclaimed at the moment of the kill.
        # (each by its own requester: the per-requester queue limit is not under test here).
        ask(svc, request_id=f"open-{i}", requester=f"user{i}@example.org", approvers=[BOB])


def test_kill_mid_flow_then_restart(tmp_path: Path) -> None:
    db = tmp_path / "confirm.sqlite"
    ConfirmationStore(db).close()
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_run_flows, args=(db, send))
    child.start()
    claimed = []
    try:
        for _ in range(FLOWS_BEFORE_KILL):
            assert receive.poll(30), "the flow process stopped reporting (see its stderr)"
            claimed.append(receive.recv())
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    while receive.poll():
        claimed.append(receive.recv())

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    after = open_service(db, ManualClock(now=datetime.now(UTC)))
    # Every claim that returned True in the dead process is still recorded as executed...
    for cid in claimed:
        c = after.get(cid)
        assert c is not None
        assert c.state is State.EXECUTED
        assert after.claim_for_execution(cid, DIGEST) is False
    # ...and nothing in the file is executed without two distinct yes answers.
    with after.store.transaction() as tx:
        executed = [tx.get(cid) for cid in tx.ids_in_state(State.EXECUTED)]
    for c in executed:
        assert c is not None
        assert {a.approver for a in c.answers} == {ALICE, BOB}
        assert c.claimed_at is not None
    # The restarted host keeps working on the same file.
    fresh = ask(after, request_id="after-restart", requester=ALICE, approvers=[ALICE])
    assert fresh.confirmation.state is State.PENDING
