"""Small real implementations of the confirmation core's two ports: audit sink and clock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host.audit.sink import JsonValue
from host.confirm import Asked, ConfirmationService, ConfirmationStore, Settings
from host.errors import AuditError

T0 = datetime(2026, 2, 8, 18, 55, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
MALLORY = "mallory@example.org"


@dataclass
class MemoryAudit:
    """An in-memory, hash-chained audit sink. ``broken`` makes every write fail."""

    events: list[tuple[str, str | None, dict[str, JsonValue]]] = field(default_factory=list)
    broken: bool = False
    _head: str = "0" * 64

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        if self.broken:
            raise AuditError("audit log unwritable (test)")
        line = json.dumps([self._head, event, request_id, data], sort_keys=True)
        self._head = hashlib.sha256(line.encode()).hexdigest()
        self.events.append((event, request_id, data))
        return self._head

    def names(self) -> list[str]:
        return [e[0] for e in self.events]

    def last(self, name: str) -> dict[str, JsonValue]:
        return [d for n, _, d in self.events if n == name][-1]


@dataclass
class ManualClock:
    """A clock that moves only when told to."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def open_service(
    path: Path,
    clock: ManualClock,
    audit: MemoryAudit | None = None,
    settings: Settings | None = None,
) -> ConfirmationService:
    """A service on the store file at ``path`` (a second call is a "restarted" process)."""
    return ConfirmationService(
        ConfirmationStore(path), audit or MemoryAudit(), settings=settings, clock=clock
    )


def ask(service: ConfirmationService, **overrides: object) -> Asked:
    """Ask with sensible defaults: Alice requests, Alice approves, delete a file."""
    values: dict[str, object] = {
        "request_id": "req-1",
        "skill": "fs.delete",
        "summary": "Delete notes/2026.md in your workspace",
        "action_digest": DIGEST,
        "requester": ALICE,
        "approvers": [ALICE],
    }
    values.update(overrides)
    return service.ask(**values)  # type: ignore[arg-type]
