"""Helpers for audit tests: a log with a fixed clock, and reading its lines back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from host.audit.log import AuditLog, checkpoint_path, rotated_files
from host.audit.verify import VerifyReport, read_anchor, verify_series


def fixed_clock() -> Callable[[], str]:
    """A clock that advances one second per record, so times are distinct and predictable."""
    counter = itertools.count()
    return lambda: f"2026-01-01T00:{(n := next(counter)) // 60:02d}:{n % 60:02d}.000000Z"


def write_log(path: Path, count: int, pad: int = 0, **options: object) -> list[str]:
    """Write ``count`` records and return their hashes; ``pad`` adds that many bytes to each
    (so rotation tests need few records, hence few fsyncs)."""
    hashes = []
    with AuditLog(path, clock=fixed_clock(), **options) as log:  # type: ignore[arg-type]
        for i in range(count):
            hashes.append(
                log.record(
                    "request.received",
                    request_id=f"r{i}",
                    data={"skill": "echo", "requester": f"user{i % 3}@example.org", "n": i}
                    | ({"pad": "x" * pad} if pad else {}),
                )
            )
    return hashes


def verify(path: Path, **options: object) -> VerifyReport:
    """Verify the whole series at ``path`` against its checkpoint."""
    files = [*rotated_files(path), path]
    return verify_series(files, checkpoint=read_anchor(checkpoint_path(path)), **options)  # type: ignore[arg-type]
