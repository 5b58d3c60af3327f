"""Attacks on the audit log file: every kind of tampering is detected and located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.audit.log import checkpoint_path, rotated_files
from host.audit.record import AuditRecord, seal
from host.audit.verify import Anchor, read_anchor, verify_series
from host.cli.main import main
from tests.audit.conftest import verify, write_log


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_log(path, 6)
    return path


def test_audit_edited_byte_is_detected(log: Path) -> None:
    lines = lines_of(log)
    lines[2] = lines[2].replace(b"user2@example.org", b"user1@example.org")
    log.write_bytes(b"".join(lines))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.seq) == (3, 2)
    assert problem.why == "the hash does not match the content: the record was edited"


def test_audit_edit_with_recomputed_hash_breaks_the_next_link(log: Path) -> None:
    lines = lines_of(log)
    old = AuditRecord.model_validate_json(lines[2])
    forged = seal(
        seq=old.seq,
        time=old.time,
        event=old.event,
        request_id=old.request_id,
        data={**old.data, "requester": "mallory@example.org"},
        prev=old.prev,
    )
    lines[2] = forged.line()
    log.write_bytes(b"".join(lines))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.seq) == (4, 3)
    assert problem.why.startswith("`prev` does not match the previous record's hash")


def test_audit_removed_record_is_detected(log: Path) -> None:
    lines = lines_of(log)
    del lines[3]
    log.write_bytes(b"".join(lines))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.seq, problem.why) == (
        4,
        4,
        "expected seq 3, found 4: missing records before it",
    )


def test_audit_reordered_records_are_detected(log: Path) -> None:
    lines = lines_of(log)
    lines[1], lines[2] = lines[2], lines[1]
    log.write_bytes(b"".join(lines))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.why) == (2, "expected seq 1, found 2: missing records before it")


def test_audit_inserted_record_is_detected(log: Path) -> None:
    lines = lines_of(log)
    prev = AuditRecord.model_validate_json(lines[1])
    lines.insert(
        2,
        seal(
            seq=2, time=prev.time, event="run.result", request_id="x", data={}, prev=prev.hash
        ).line(),
    )
    log.write_bytes(b"".join(lines))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.seq, problem.why) == (
        4,
        2,
        "expected seq 3, found 2: out of order",
    )


def test_audit_cut_tail_is_detected_by_the_checkpoint(log: Path) -> None:
    log.write_bytes(b"".join(lines_of(log)[:4]))
    problem = verify(log).problem
    assert problem is not None
    assert problem.why.startswith("the series ends at seq 3 but")
    assert problem.why.endswith("records seq 5: records were removed from the end")


def test_audit_cut_head_is_detected(log: Path) -> None:
    log.write_bytes(b"".join(lines_of(log)[2:]))
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.why) == (1, "expected seq 0, found 2: missing records before it")
    assert verify(log, partial=True).ok


def test_audit_torn_last_line_is_detected(log: Path) -> None:
    log.write_bytes(log.read_bytes()[:-10])
    problem = verify(log).problem
    assert problem is not None
    assert (problem.line, problem.seq) == (6, None)
    assert problem.why.startswith("the line is incomplete")


def test_audit_full_rewrite_is_caught_only_by_an_anchor(log: Path) -> None:
    published = Anchor(3, AuditRecord.model_validate_json(lines_of(log)[3]).hash, "published")
    records = [AuditRecord.model_validate_json(x) for x in lines_of(log)]
    prev = records[2].hash
    rewritten = [x.line() for x in records[:3]]
    for old in records[3:]:
        new = seal(
            seq=old.seq,
            time=old.time,
            event=old.event,
            request_id=old.request_id,
            data={**old.data, "n": -1},
            prev=prev,
        )
        rewritten.append(new.line())
        prev = new.hash
    log.write_bytes(b"".join(rewritten))
    checkpoint_path(log).write_text(f'{{"hash":"{prev}","seq":5}}\n')
    assert verify(log).ok  # a thorough forger fools the local checkpoint...
    report = verify_series([log], checkpoint=read_anchor(checkpoint_path(log)), anchors=[published])
    assert report.problem is not None  # ...but not a head published elsewhere
    assert report.problem.why.startswith("the hash differs from the anchor in published")


def test_audit_missing_rotated_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 130, pad=1000, max_bytes=64 * 1024)
    files = [*rotated_files(path), path]
    report = verify_series([files[0], files[2]], checkpoint=read_anchor(checkpoint_path(path)))
    assert report.problem is not None
    assert report.problem.file == files[2]
    assert report.problem.why.endswith("missing records before it")


def test_audit_cli_verify_names_the_first_bad_record(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(log)]) == 0
    assert capsys.readouterr().out.startswith("OK 6 records in 1 file(s); head seq 5")
    lines = lines_of(log)
    doc = json.loads(lines[4])
    doc["event"] = "run.result"
    lines[4] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    assert main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"FAIL {log}:5 (seq 4): the hash does not match the content: the record was edited"
    )


EDITS = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("drop_line"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("swap_lines"), st.integers(min_value=0), st.integers(min_value=1)),
    st.tuples(st.just("dup_line"), st.integers(min_value=0), st.just(0)),
)


def apply_edit(data: bytes, edit: tuple[str, int, object]) -> bytes:
    kind, where, arg = edit
    if kind == "flip":
        i = where % len(data)
        assert isinstance(arg, int)
        return data[:i] + bytes([data[i] ^ arg]) + data[i + 1 :]
    if kind == "delete":
        i = where % len(data)
        assert isinstance(arg, int)
        return data[:i] + data[i + arg :]
    if kind == "insert":
        i = where % (len(data) + 1)
        assert isinstance(arg, bytes)
        return data[:i] + arg + data[i:]
    lines = data.splitlines(keepends=True)
    i = where % len(lines)
    if kind == "drop_line":
        del lines[i]
    elif kind == "dup_line":
        lines.insert(i, lines[i])
    else:
        assert isinstance(arg, int)
        j = (i + arg) % len(lines)
        if i == j:
            j = (i + 1) % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edit=EDITS)
def test_audit_random_edits_are_always_detected(
    tmp_path: Path, edit: tuple[str, int, object]
) -> None:
    path = tmp_path / "prop.jsonl"
    if not path.exists():
        write_log(path, 5)
    original = path.read_bytes()
    tampered = apply_edit(original, edit)
    if tampered == original:
        return  # e.g. swapping two identical lines: nothing changed, nothing to detect
    path.write_bytes(tampered)
    try:
        assert not verify(path).ok, f"undetected: {edit}"
    finally:
        path.write_bytes(original)
