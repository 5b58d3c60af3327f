"""The audit log: append-only, hash-chained, fsynced before the action it describes.

:class:`AuditLog` implements :class:`host.audit.sink.AuditSink`. ``record()`` returns only once
the record (and every record before it) is on disk: written, then ``fsync``ed. Concurrent
callers share fsyncs (group commit): the first waiting thread writes everything queued so far
with one ``fsync`` while the others wait for it, so throughput grows with concurrency while each
caller still gets durability before it proceeds.

If a write or fsync fails (disk full, file too large, permissions, closed file), the log is
marked failed: that ``record()`` and every later one raise :class:`AuditError`, and the callers
must refuse to act. The partial batch is cut back off the file so the chain on disk stays valid.

Rotation: when the file reaches ``max_bytes`` it is renamed ``NAME.000001`` (then ``.000002``...)
and a new file continues the same chain (same ``seq`` counter, ``prev`` = last hash).
Checkpoint: after every fsync the head (last seq and hash) is written in place to ``NAME.head``
(synced at close and rotation), which lets ``airlock audit verify`` detect records cut from the
end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from host.audit.canonical import canonical_json
from host.audit.record import EVENT_NAME, GENESIS, MAX_RECORD_BYTES, AuditRecord, seal
from host.audit.redact import Redactor
from host.audit.sink import JsonValue
from host.errors import AuditError

__all__ = ["DEFAULT_MAX_BYTES", "AuditLog", "checkpoint_path", "rotated_files"]

# 64 MiB per file: ~200k records; small enough to copy, verify and archive one at a time.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
CHECKPOINT_BYTES = 128  # {"hash":<64 hex>,"seq":<up to 20 digits>} padded with spaces
_ROTATED = re.compile(r"^\.(\d{6})$")


def checkpoint_path(path: Path) -> Path:
    """Where the head of the log at ``path`` is kept."""
    return path.with_name(path.name + ".head")


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log at ``path`` (``NAME.000001``...), oldest first."""
    if not path.parent.is_dir():
        return []
    found = []
    for sibling in path.parent.iterdir():
        if sibling.name.startswith(path.name):
            match = _ROTATED.match(sibling.name[len(path.name) :])
            if match:
                found.append((int(match.group(1)), sibling))
    return [p for _, p in sorted(found)]


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _last_record(path: Path) -> AuditRecord | None:
    """The last record of ``path`` (None if the file is empty); AuditError if it is damaged."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(max(0, size - MAX_RECORD_BYTES - 1))
        tail = handle.read()
    if not tail.endswith(b"\n"):
        raise AuditError(
            f"{path}: the last line is incomplete (a crash during a write?)",
            hint=f"run `airlock audit verify {path}`, then move the file aside to start a new one",
        )
    line = tail[:-1].rsplit(b"\n", 1)[-1] + b"\n"
    try:
        record = AuditRecord.model_validate_json(line)
    except ValidationError:
        raise AuditError(
            f"{path}: the last record is not a valid audit record",
            hint=f"run `airlock audit verify {path}`",
        ) from None
    if record.line() != line or record.expected_hash() != record.hash:
        raise AuditError(
            f"{path}: the last record (seq {record.seq}) fails its hash",
            hint=f"run `airlock audit verify {path}`",
        )
    return record


class AuditLog:
    """A hash-chained JSON-lines audit log at ``path`` (an :class:`AuditSink`).

    ``secret_values`` are redacted from every record. ``group_commit=False`` holds the lock
    through each fsync (one fsync per record; kept for measurement). Use as a context manager
    or call :meth:`close`.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        secret_values: Iterable[str] = (),
        group_commit: bool = True,
        clock: Callable[[], str] = _utc_now,
    ) -> None:
        if max_bytes < MAX_RECORD_BYTES:
            raise AuditError(f"max_bytes must be at least {MAX_RECORD_BYTES}")
        self.path = path
        self._max_bytes = max_bytes
        self._redactor = Redactor(secret_values)
        self._group = group_commit
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: list[tuple[int, str, bytes]] = []
        self._flushing = False
        self._failure: str | None = None
        self._syncs = 0
        try:
            self._ckpt = os.open(
                checkpoint_path(path), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from None
        try:
            # One writer per log: a second one would fork the chain. The lock lives on the
            # checkpoint file, which (unlike the log) is never renamed by rotation.
            fcntl.flock(self._ckpt, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._ckpt)
            raise AuditError(
                f"audit log {path} is already open for writing (by this or another process)",
                hint="each host needs its own audit log file",
            ) from None
        try:
            self._seq, self._head = self._recover()
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (OSError, AuditError) as exc:
            os.close(self._ckpt)
            if isinstance(exc, AuditError):
                raise
            raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from None
        self._durable = self._seq - 1
        self._size = os.fstat(self._fd).st_size
        self._last_written = (self._seq - 1, self._head)
        if self._seq > 0:
            self._write_checkpoint(*self._last_written, durable=True)

    def _recover(self) -> tuple[int, str]:
        """(next seq, last hash) from the newest record on disk, across rotated files."""
        for candidate in [self.path, *reversed(rotated_files(self.path))]:
            try:
                last = _last_record(candidate)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise AuditError(f"cannot read audit log {candidate}: {exc.strerror}") from None
            if last is not None:
                self._check_not_truncated(last)
                return last.seq + 1, last.hash
        return 0, GENESIS

    def _check_not_truncated(self, last: AuditRecord) -> None:
        try:
            text = checkpoint_path(self.path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return  # no checkpoint yet: nothing to compare with
        match = re.fullmatch(r'\{"hash":"([0-9a-f]{64})","seq":(\d+)\} *', text)
        if match and int(match.group(2)) > last.seq:
            raise AuditError(
                f"{self.path}: the log ends at seq {last.seq} but its checkpoint records seq "
                f"{match.group(2)}: records were removed from the end",
                hint=f"run `airlock audit verify {self.path}`; keep the damaged file as evidence",
            )

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        """Append one event durably and return its hash; AuditError if it cannot be written."""
        if not EVENT_NAME.match(event) or len(event) > 64:
            raise AuditError(f"invalid audit event name {event[:80]!r}")
        if request_id is not None and len(request_id) > 128:
            raise AuditError("request_id is longer than 128 characters")
        clean: dict[str, Any] = self._redactor.redact(data)
        with self._cond:
            if self._failure:
                raise AuditError(self._failure, hint="the host must not act until this is fixed")
            try:
                rec = seal(
                    seq=self._seq,
                    time=self._clock(),
                    event=event,
                    request_id=request_id,
                    data=clean,
                    prev=self._head,
                )
                line = rec.line()
            except (ValueError, TypeError) as exc:
                raise AuditError(f"audit data for {event} is not JSON: {exc}") from None
            if len(line) > MAX_RECORD_BYTES:
                raise AuditError(
                    f"audit record for {event} is {len(line)} bytes; the cap is "
                    f"{MAX_RECORD_BYTES} (record digests, not contents)"
                )
            mine = rec.seq
            self._seq += 1
            self._head = rec.hash
            self._pending.append((rec.seq, rec.hash, line))
            while self._durable < mine and not self._failure:
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
                batch, self._pending = self._pending, []
                try:
                    if self._group:
                        self._cond.release()
                        try:
                            self._write(batch)
                        finally:
                            self._cond.acquire()
                    else:
                        self._write(batch)
                    self._durable = batch[-1][0]
                except OSError as exc:
                    self._failure = f"cannot write audit log {self.path}: {exc.strerror or exc}"
                finally:
                    self._flushing = False
                    self._cond.notify_all()
            if self._durable < mine:
                raise AuditError(
                    self._failure or "audit log failed",
                    hint="the host must not act until this is fixed",
                )
        return rec.hash

    def _write(self, batch: list[tuple[int, str, bytes]]) -> None:
        """Write and fsync ``batch``; on error cut the file back to where it was, then raise."""
        if self._fd < 0:
            raise OSError(0, "the log is closed")
        data = b"".join(line for _, _, line in batch)
        start = self._size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
            self._syncs += 1
        except OSError:
            # If even this fails, verify reports the partial line; we are failing anyway.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise
        self._size = start + len(data)
        self._last_written = (batch[-1][0], batch[-1][1])
        self._write_checkpoint(*self._last_written)
        if self._size >= self._max_bytes:
            self._rotate()

    def _write_checkpoint(self, seq: int, digest: str, *, durable: bool = False) -> None:
        """Overwrite the head in place: fixed size (padded), so the file never changes length.

        Not fsynced per batch (``durable`` only at close and rotation): the log itself is synced
        first, so after a crash the checkpoint can only lag behind the log, never lead it, and
        reopening the log rewrites it from the last valid record. It guards against records cut
        from the end at rest, which needs no extra fsync per record.
        """
        text = canonical_json({"seq": seq, "hash": digest}).ljust(CHECKPOINT_BYTES - 1) + b"\n"
        os.pwrite(self._ckpt, text, 0)
        if durable:
            os.fsync(self._ckpt)

    def _rotate(self) -> None:
        existing = rotated_files(self.path)
        number = int(existing[-1].name.rsplit(".", 1)[1]) + 1 if existing else 1
        target = self.path.with_name(f"{self.path.name}.{number:06d}")
        self._write_checkpoint(*self._last_written, durable=True)
        os.close(self._fd)
        self._fd = -1
        os.rename(self.path, target)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._size = 0
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)  # make both names durable before the next record is acknowledged
        finally:
            os.close(dir_fd)

    @property
    def syncs(self) -> int:
        """How many fsyncs of the log this writer made (records per sync shows group commit)."""
        return self._syncs

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record appended (-1 and 64 zeros when empty)."""
        with self._cond:
            return self._seq - 1, self._head

    def close(self) -> None:
        """Close the files; later ``record()`` calls raise AuditError."""
        with self._cond:
            while self._flushing:
                self._cond.wait()
            if self._failure is None:
                self._failure = f"audit log {self.path} is closed"
                if self._last_written[0] >= 0 and self._ckpt >= 0:
                    with contextlib.suppress(OSError):
                        self._write_checkpoint(*self._last_written, durable=True)
            for fd in (self._fd, self._ckpt):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._ckpt = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
