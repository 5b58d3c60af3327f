"""Verifying an audit series: every record, every link, and the head.

A series is the rotated files oldest first, then the current file. Verification stops at the
first bad record and names it (file, line, seq, why). What it detects:

- an edited byte anywhere (the line is no longer canonical, or its hash no longer matches);
- a removed, reordered or inserted record (``seq`` jumps or ``prev`` no longer links);
- records removed from the start (the first record is not seq 0 with the genesis ``prev``,
  unless ``partial`` says the older files were archived);
- records removed from the end, against the checkpoint file and/or an anchor (a head published
  elsewhere, e.g. ``airlock audit head`` sent to another host each day).

What it cannot detect alone: someone who rewrites the whole series from some record on and
recomputes every hash and the checkpoint. Only an anchor kept out of their reach detects that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from host.audit.record import GENESIS, MAX_RECORD_BYTES, AuditRecord

__all__ = ["Anchor", "Problem", "VerifyReport", "iter_records", "read_anchor", "verify_series"]

_CHECKPOINT = re.compile(r'\{"hash":"([0-9a-f]{64})","seq":(\d+)\} *\n?')


@dataclass(frozen=True)
class Anchor:
    """A known head: the record ``seq`` must exist and have ``hash``."""

    seq: int
    hash: str
    source: str  # where it came from, for messages


@dataclass(frozen=True)
class Problem:
    """The first bad place in a series."""

    file: Path
    line: int
    seq: int | None
    why: str

    def __str__(self) -> str:
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.file}:{self.line}{seq}: {self.why}"


@dataclass(frozen=True)
class VerifyReport:
    """The outcome: ``problem`` is None when the whole series verified."""

    records: int
    head_seq: int
    head_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def read_anchor(path: Path) -> Anchor | None:
    """The anchor in a checkpoint file (None if there is none); ValueError if unreadable."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from None
    match = _CHECKPOINT.fullmatch(text)
    if not match:
        raise ValueError(f"checkpoint {path} is not a valid head record")
    return Anchor(int(match.group(2)), match.group(1), str(path))


def iter_records(files: Sequence[Path]) -> Iterator[tuple[Path, int, bytes]]:
    """(file, line number, raw line) for every line of every file, in order."""
    for path in files:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                yield path, number, raw


def _check_line(raw: bytes) -> tuple[AuditRecord | None, str | None]:
    if not raw.endswith(b"\n"):
        return None, "the line is incomplete (no newline at the end): cut or torn write"
    if len(raw) > MAX_RECORD_BYTES + 1:
        return None, f"the line is longer than {MAX_RECORD_BYTES} bytes"
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "not valid JSON"
    try:
        record = AuditRecord.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        return None, f"not an audit record: `{where}`: {first['msg']}"
    if record.line() != raw:
        return record, "the line is not in canonical form: it was edited"
    if record.expected_hash() != record.hash:
        return record, "the hash does not match the content: the record was edited"
    return record, None


def verify_series(
    files: Sequence[Path],
    *,
    checkpoint: Anchor | None = None,
    anchors: Sequence[Anchor] = (),
    partial: bool = False,
) -> VerifyReport:
    """Verify ``files`` (oldest first) against each other, the checkpoint and ``anchors``.

    The ``checkpoint`` (the writer's ``NAME.head``) must name the last record exactly; other
    ``anchors`` must each name a record in the series. ``partial`` accepts a series whose first
    record is not seq 0 (older files archived); the first record's ``prev`` is then trusted.
    """
    if checkpoint is not None:
        anchors = [*anchors, checkpoint]
    beyond: tuple[Path, int, int] | None = None
    expected_seq: int | None = None if partial else 0
    head = GENESIS
    count = 0
    wanted: dict[int, list[Anchor]] = {}
    for a in anchors:
        wanted.setdefault(a.seq, []).append(a)
    last_file, last_line = (files[-1] if files else Path("-")), 0
    for path, number, raw in iter_records(files):
        last_file, last_line = path, number
        record, why = _check_line(raw)
        seq = record.seq if record else None
        if why is None and record is not None:
            if expected_seq is not None and record.seq != expected_seq:
                what = "missing records before it" if record.seq > expected_seq else "out of order"
                why = f"expected seq {expected_seq}, found {record.seq}: {what}"
            elif (expected_seq is not None or count) and record.prev != head:
                why = "`prev` does not match the previous record's hash: a record was removed, "
                why += "inserted or reordered"
        if why is not None:
            return VerifyReport(
                count, (expected_seq or 0) - 1, head, Problem(path, number, seq, why)
            )
        assert record is not None
        for anchor in wanted.pop(record.seq, []):
            if anchor.hash != record.hash:
                why = f"the hash differs from the anchor in {anchor.source}: it was rewritten"
                return VerifyReport(count, record.seq - 1, head, Problem(path, number, seq, why))
        if checkpoint is not None and record.seq == checkpoint.seq + 1:
            beyond = (path, number, record.seq)
        head, expected_seq, count = record.hash, record.seq + 1, count + 1
    last_seq = (expected_seq or 0) - 1
    for anchor in sorted((a for group in wanted.values() for a in group), key=lambda a: a.seq):
        if anchor.seq > last_seq:
            why = (
                f"the series ends at seq {last_seq} but {anchor.source} records seq "
                f"{anchor.seq}: records were removed from the end"
            )
        else:
            why = f"{anchor.source} names seq {anchor.seq}, which is not in the files given"
        return VerifyReport(count, last_seq, head, Problem(last_file, last_line, None, why))
    if beyond is not None and checkpoint is not None:
        why = (
            f"the log continues past its checkpoint (seq {checkpoint.seq}): records were "
            "appended outside the writer, or it crashed before updating the checkpoint "
            "(reopening the log with Airlock repairs that)"
        )
        return VerifyReport(count, last_seq, head, Problem(beyond[0], beyond[1], beyond[2], why))
    return VerifyReport(count, last_seq, head, None)
