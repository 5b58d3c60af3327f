"""Outputs in the audit: a digest and a size always, the bytes only in a content store.

The log never holds a skill's output (it may hold personal data, and it would bloat the log).
An auditor who needs the output itself can enable a :class:`ContentStore`: files named by their
sha256, so the digest in the log proves which bytes were produced.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from host.audit.sink import JsonValue
from host.errors import AuditError

__all__ = ["ContentStore", "output_summary"]


class ContentStore:
    """Write-once files ``ROOT/ab/abcdef...`` named by the sha256 of their content."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` durably (idempotent); return its hex sha256. AuditError on failure."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if target.exists():
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:
            raise AuditError(f"cannot store output in {self.root}: {exc.strerror}") from None
        return digest

    def get(self, digest: str) -> bytes:
        """The stored bytes for ``digest``, checked against it."""
        try:
            data = self.path_of(digest).read_bytes()
        except OSError as exc:
            raise AuditError(f"no stored output {digest[:16]}...: {exc.strerror}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise AuditError(f"stored output {digest[:16]}... does not match its digest")
        return data


def output_summary(data: bytes, store: ContentStore | None = None) -> dict[str, JsonValue]:
    """What the audit records about an output: its sha256 and size (and whether it is stored)."""
    digest = store.put(data) if store is not None else hashlib.sha256(data).hexdigest()
    return {"sha256": digest, "bytes": len(data), "stored": store is not None}
