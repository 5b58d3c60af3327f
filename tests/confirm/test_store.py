"""ConfirmationStore: durable settings, schema guard, single-use claim across processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from host.confirm import ConfirmationStore, State
from host.errors import ConfirmError
from tests.confirm.fakes import ALICE, DIGEST, ManualClock, ask, open_service

CLAIMERS = 3


def _claim(path: Path, cid: str, start: Barrier, results: Queue) -> None:  # type: ignore[type-arg]
    """One claiming process: its own connection, released at the same moment as the others."""
    store = ConfirmationStore(path)
    start.wait(timeout=30)
    results.put(store.claim_for_execution(cid, DIGEST, now=datetime.now(UTC), grace_s=60))
    store.close()


def test_store_file_is_private_and_durable(db: Path) -> None:
    store = ConfirmationStore(db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
    store.close()


def test_store_refuses_an_unknown_schema_version(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfirmError, match="has confirmation schema 99, this Airlock knows 1"):
        ConfirmationStore(db)


def test_store_refuses_a_row_edited_into_an_impossible_state(db: Path, clock: ManualClock) -> None:
    svc = open_service(db, clock)
    c = ask(svc).confirmation
    conn = sqlite3.connect(db)
    conn.execute("UPDATE confirmations SET required = 5 WHERE id = ?", (c.id,))
    conn.commit()
    conn.close()
    with pytest.raises(ConfirmError, match=f"confirmation {c.id} in the store is inconsistent"):
        svc.get(c.id)


def test_one_answer_per_approver_is_enforced_by_the_file(db: Path, clock: ManualClock) -> None:
    c = ask(open_service(db, clock)).confirmation
    conn = sqlite3.connect(db)
    row = (c.id, ALICE, "yes", "direct_chat", 0.0)
    conn.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?)", row)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed"):
        conn.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?)", row)
    conn.close()


def test_claim_succeeds_once_across_concurrent_processes(db: Path) -> None:
    svc = open_service(db, ManualClock(now=datetime.now(UTC)))
    c = ask(svc).confirmation
    with svc.store.transaction() as tx:
        assert tx.decide(c.id, State.PENDING, State.APPROVED, datetime.now(UTC))
    # Forked, so the children start in milliseconds with everything imported.
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(CLAIMERS), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(db, c.id, start, results)) for _ in range(CLAIMERS)]
    for proc in procs:
        proc.start()
    outcomes = sorted(results.get(timeout=30) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert outcomes == [False] * (CLAIMERS - 1) + [True]
    assert svc.get(c.id).state is State.EXECUTED  # type: ignore[union-attr]


def test_raw_claim_checks_digest_and_time(db: Path) -> None:
    now = datetime.now(UTC)
    svc = open_service(db, ManualClock(now=now))
    c = ask(svc).confirmation
    with svc.store.transaction() as tx:
        tx.decide(c.id, State.PENDING, State.APPROVED, now)
    assert not svc.store.claim_for_execution(c.id, "sha256:other", now=now, grace_s=60)
    late = c.expires_at.replace(microsecond=0).astimezone(UTC)
    assert not svc.store.claim_for_execution(c.id, DIGEST, now=late.replace(year=2100), grace_s=0)
    assert svc.store.claim_for_execution(c.id, DIGEST, now=now, grace_s=0)
    assert not svc.store.claim_for_execution(c.id, DIGEST, now=now, grace_s=0)
