"""ConfirmationStore: durable settings, schema guard, single-use claim across processes."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from host.confirm import ConfirmationStore, State
from host.errors import ConfirmError
from tests.confirm.fakes import ALICE, DIGEST, ManualClock, ask, open_service

CLAIMERS = 3
CLAIM_SCRIPT = """
import sys
from datetime import UTC, datetime
from host.confirm import ConfirmationStore
store = ConfirmationStore(__import__("pathlib").Path(sys.argv[1]))
print(store.claim_for_execution(sys.argv[2], sys.argv[3], now=datetime.now(UTC), grace_s=60))
"""


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


def test_claim_succeeds_once_across_concurrent_processes(db: Path, repo_root: Path) -> None:
    svc = open_service(db, ManualClock(now=datetime.now(UTC)))
    c = ask(svc).confirmation
    with svc.store.transaction() as tx:
        assert tx.decide(c.id, State.PENDING, State.APPROVED, datetime.now(UTC))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM_SCRIPT, str(db), c.id, DIGEST],
            cwd=repo_root,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CLAIMERS)
    ]
    results = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert results == ["False"] * (CLAIMERS - 1) + ["True"]
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
