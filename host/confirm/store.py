"""Durable storage of confirmations in one SQLite file.

The store keeps every confirmation and every answer, so that a restart neither loses a pending
confirmation nor replays an approved one. It has no opinion on who may answer; the rules live in
:mod:`host.confirm.service`, which does all its reads and writes inside :meth:`transaction`.

Durability: WAL journal with ``synchronous=FULL``, so a commit has reached the disk when it
returns. Every transaction starts with ``BEGIN IMMEDIATE``, which takes SQLite's write lock up
front: two processes answering (or claiming) the same confirmation are serialised by the file
lock, not by luck. The single-use guarantee rests on one conditional ``UPDATE`` (see
:meth:`StoreTx.claim`), which can match a row at most once however many processes try.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from pydantic import ValidationError

from host.confirm.models import AnswerRecord, Confirmation, State
from host.errors import ConfirmError

SCHEMA_VERSION = 1
# Another process holding the write lock (answering, claiming) finishes in milliseconds; five
# seconds of waiting means something is wrong, and the caller gets an error instead of a hang.
BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS confirmations (
    id            TEXT PRIMARY KEY,
    ref           TEXT NOT NULL UNIQUE,
    request_id    TEXT NOT NULL,
    skill         TEXT NOT NULL,
    summary       TEXT NOT NULL,
    prompt        TEXT NOT NULL,
    action_digest TEXT NOT NULL,
    requester     TEXT NOT NULL,
    required      INTEGER NOT NULL CHECK (required >= 1),
    risk          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    expires_at    REAL NOT NULL,
    state         TEXT NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'executed')),
    decided_at    REAL,
    claimed_at    REAL
);
CREATE TABLE IF NOT EXISTS approvers (
    confirmation_id TEXT NOT NULL REFERENCES confirmations(id),
    jid             TEXT NOT NULL,
    PRIMARY KEY (confirmation_id, jid)
);
CREATE TABLE IF NOT EXISTS answers (
    confirmation_id TEXT NOT NULL REFERENCES confirmations(id),
    approver        TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('yes', 'no')),
    channel         TEXT NOT NULL,
    answered_at     REAL NOT NULL,
    -- one answer per person: N-of-M counts distinct JIDs, enforced by the file itself
    PRIMARY KEY (confirmation_id, approver)
);
CREATE INDEX IF NOT EXISTS confirmations_state ON confirmations(state, expires_at);
CREATE INDEX IF NOT EXISTS approvers_jid ON approvers(jid);
CREATE INDEX IF NOT EXISTS confirmations_requester ON confirmations(requester, state);
"""

_COLUMNS = (
    "id, ref, request_id, skill, summary, prompt, action_digest, requester, required, risk, "
    "created_at, expires_at, state, decided_at, claimed_at"
)


def _ts(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ConfirmError("internal: naive datetime passed to the confirmation store")
    return moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class StoreTx:
    """Reads and writes inside one ``BEGIN IMMEDIATE`` transaction. Get one from
    :meth:`ConfirmationStore.transaction`; it is useless after the ``with`` block."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def insert(self, confirmation: Confirmation) -> None:
        """Store a new confirmation and its approver set. Its id and ref must be new."""
        c = confirmation
        self._conn.execute(
            f"INSERT INTO confirmations ({_COLUMNS}) VALUES "  # noqa: S608 (constant columns)
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.id,
                c.ref,
                c.request_id,
                c.skill,
                c.summary,
                c.prompt,
                c.action_digest,
                c.requester,
                c.required,
                c.risk.value,
                _ts(c.created_at),
                _ts(c.expires_at),
                c.state.value,
                None,
                None,
            ),
        )
        self._conn.executemany(
            "INSERT INTO approvers (confirmation_id, jid) VALUES (?, ?)",
            [(c.id, jid) for jid in sorted(c.approvers)],
        )

    def ref_taken(self, ref: str) -> bool:
        """Whether any confirmation, of any age, already uses ``ref`` (refs are never reused)."""
        row = self._conn.execute("SELECT 1 FROM confirmations WHERE ref = ?", (ref,)).fetchone()
        return row is not None

    def get(self, confirmation_id: str) -> Confirmation | None:
        """The confirmation with this structured id, with its answers."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM confirmations WHERE id = ?",  # noqa: S608
            (confirmation_id,),
        ).fetchone()
        return None if row is None else self._load(row)

    def get_by_ref(self, ref: str) -> Confirmation | None:
        """The confirmation with this human ref, with its answers."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM confirmations WHERE ref = ?",  # noqa: S608
            (ref,),
        ).fetchone()
        return None if row is None else self._load(row)

    def ids_in_state(self, *states: State) -> list[str]:
        """Ids of every confirmation in one of ``states``, oldest first."""
        marks = ", ".join("?" for _ in states)
        rows = self._conn.execute(
            f"SELECT id FROM confirmations WHERE state IN ({marks}) "  # noqa: S608
            "ORDER BY created_at, rowid",
            [s.value for s in states],
        ).fetchall()
        return [r[0] for r in rows]

    def pending_ids_for(self, jid: str) -> list[str]:
        """Ids of pending confirmations that ``jid`` may answer and has not answered yet."""
        rows = self._conn.execute(
            "SELECT c.id FROM confirmations c JOIN approvers a ON a.confirmation_id = c.id "
            "WHERE a.jid = ? AND c.state = 'pending' AND NOT EXISTS ("
            "  SELECT 1 FROM answers x WHERE x.confirmation_id = c.id AND x.approver = ?) "
            "ORDER BY c.created_at, c.rowid",
            (jid, jid),
        ).fetchall()
        return [r[0] for r in rows]

    def pending_ids_requested_by(self, requester: str) -> list[str]:
        """Ids of pending confirmations asked on behalf of ``requester``."""
        rows = self._conn.execute(
            "SELECT id FROM confirmations WHERE requester = ? AND state = 'pending' "
            "ORDER BY created_at, rowid",
            (requester,),
        ).fetchall()
        return [r[0] for r in rows]

    def closed_ids_for(self, jid: str, since: datetime) -> list[str]:
        """Ids of confirmations ``jid`` could have answered and did not, closed at ``since`` or
        later (expired ones at their expiry, the others when they were decided)."""
        rows = self._conn.execute(
            "SELECT c.id FROM confirmations c JOIN approvers a ON a.confirmation_id = c.id "
            "WHERE a.jid = ? AND c.state != 'pending' "
            "AND (CASE WHEN c.state = 'expired' THEN c.expires_at ELSE c.decided_at END) >= ? "
            "AND NOT EXISTS ("
            "  SELECT 1 FROM answers x WHERE x.confirmation_id = c.id AND x.approver = ?) "
            "ORDER BY c.created_at, c.rowid",
            (jid, _ts(since), jid),
        ).fetchall()
        return [r[0] for r in rows]

    def add_answer(self, confirmation_id: str, answer: AnswerRecord) -> None:
        """Record one approver's answer. A second answer by the same JID is an IntegrityError."""
        self._conn.execute(
            "INSERT INTO answers (confirmation_id, approver, decision, channel, answered_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                confirmation_id,
                answer.approver,
                answer.decision.value,
                answer.channel.value,
                _ts(answer.answered_at),
            ),
        )

    def decide(self, confirmation_id: str, old: State, new: State, at: datetime) -> bool:
        """Move from ``old`` to ``new`` if the row is still in ``old``; True if it moved."""
        cur = self._conn.execute(
            "UPDATE confirmations SET state = ?, decided_at = ? WHERE id = ? AND state = ?",
            (new.value, _ts(at), confirmation_id, old.value),
        )
        return cur.rowcount == 1

    def claim(self, confirmation_id: str, action_digest: str, now: datetime, grace_s: int) -> bool:
        """Approved -> executed, exactly once, if the digest matches and the claim is in time.

        The whole condition sits in one ``UPDATE``: of any number of concurrent callers, in any
        number of processes, at most one sees a changed row.
        """
        cur = self._conn.execute(
            "UPDATE confirmations SET state = 'executed', claimed_at = ? "
            "WHERE id = ? AND state = 'approved' AND action_digest = ? AND expires_at + ? > ?",
            (_ts(now), confirmation_id, action_digest, grace_s, _ts(now)),
        )
        return cur.rowcount == 1

    def _load(self, row: tuple[object, ...]) -> Confirmation:
        cid = row[0]
        approvers = [
            r[0]
            for r in self._conn.execute(
                "SELECT jid FROM approvers WHERE confirmation_id = ?", (cid,)
            ).fetchall()
        ]
        answers = [
            AnswerRecord(approver=r[0], decision=r[1], channel=r[2], answered_at=_dt(r[3]))
            for r in self._conn.execute(
                "SELECT approver, decision, channel, answered_at FROM answers "
                "WHERE confirmation_id = ? ORDER BY answered_at, approver",
                (cid,),
            ).fetchall()
        ]
        fields = dict(zip(_COLUMNS.split(", "), row, strict=True))
        for key in ("created_at", "expires_at", "decided_at", "claimed_at"):
            fields[key] = _dt(fields[key])  # type: ignore[arg-type]
        try:
            return Confirmation.model_validate(
                {**fields, "approvers": approvers, "answers": answers}
            )
        except ValidationError as exc:
            raise ConfirmError(
                f"confirmation {cid} in the store is inconsistent: {exc.errors()[0]['msg']}",
                hint="the file was edited by hand or is corrupt; restore it from a backup",
            ) from None


class ConfirmationStore:
    """One SQLite file of confirmations, safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if not path.exists():
                # Prompts name people and files: readable by the service's user only. SQLite
                # gives its -wal and -shm files the same mode as the database.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise ConfirmError(
                f"cannot open the confirmation store {path}: {exc}",
                hint="check that the directory exists and is writable by the service",
            ) from None
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise ConfirmError(
                f"{self.path} has confirmation schema {version}, this Airlock knows "
                f"{SCHEMA_VERSION}",
                hint="use the Airlock version that created it, or move the file away",
            )
        # Every statement is IF NOT EXISTS: re-running adds what a file of this version lacks.
        self._conn.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise ConfirmError(
                    f"the confirmation store {self.path} is busy or unwritable: {exc}"
                ) from None
            try:
                yield StoreTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ConfirmError(f"cannot commit to {self.path}: {exc}") from None

    def get(self, confirmation_id: str) -> Confirmation | None:
        """The stored confirmation, as it is now (no expiry applied: see the service)."""
        with self.transaction() as tx:
            return tx.get(confirmation_id)

    def claim_for_execution(
        self, confirmation_id: str, action_digest: str, *, now: datetime, grace_s: int
    ) -> bool:
        """True exactly once for an approved, unexpired confirmation of ``action_digest``."""
        with self.transaction() as tx:
            return tx.claim(confirmation_id, action_digest, now, grace_s)

    def close(self) -> None:
        """Close the file. Pending confirmations stay in it for the next process."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ConfirmationStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
