"""The audit log: chained, durable, redacted, concurrent, rotated, and failing closed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from host.audit.canonical import sha256_json
from host.audit.log import AuditLog, checkpoint_path, rotated_files
from host.audit.record import GENESIS
from host.errors import AuditError
from tests.audit.conftest import fixed_clock, verify, write_log


def test_records_chain_and_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    hashes = write_log(path, 3)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["seq"] for r in lines] == [0, 1, 2]
    assert [r["prev"] for r in lines] == [GENESIS, hashes[0], hashes[1]]
    assert [r["hash"] for r in lines] == hashes
    body = {k: v for k, v in lines[1].items() if k != "hash"}
    assert sha256_json(body) == hashes[1]
    assert checkpoint_path(path).read_text().rstrip() == f'{{"hash":"{hashes[2]}","seq":2}}'
    assert verify(path).ok


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first = write_log(path, 2)
    with AuditLog(path, clock=fixed_clock()) as log:
        assert log.head == (1, first[1])
        log.record("error", request_id=None, data={"what": "restart"})
    report = verify(path)
    assert (report.ok, report.records, report.head_seq) == (True, 3, 2)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, secret_values=["hunter2-very-secret"]) as log:
        log.record(
            "run.host_call",
            request_id="r1",
            data={"url": "https://x/?key=hunter2-very-secret", "api_key": "abc", "n": 1},
        )
    data = json.loads(path.read_text())["data"]
    assert data == {"url": "https://x/?key=[redacted]", "api_key": "[redacted]", "n": 1}


def test_secret_names_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.record(
            "policy.decision",
            request_id="r",
            data={
                "grant": {"secrets": ["SEARCH_API_KEY"]},
                "secret_names": ["A"],
                "tokens": 3,
                "x_auth_token": "abc",
                "Authorization": "Bearer abc",
            },
        )
    data = json.loads(path.read_text())["data"]
    assert data == {
        "grant": {"secrets": ["SEARCH_API_KEY"]},
        "secret_names": ["A"],
        "tokens": 3,
        "x_auth_token": "[redacted]",
        "Authorization": "[redacted]",
    }


def test_oversized_record_and_bad_event_are_refused(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.jsonl") as log:
        with pytest.raises(AuditError, match=r"is \d+ bytes; the cap is 65536"):
            log.record("run.result", request_id="r", data={"stdout": "x" * 70_000})
        with pytest.raises(AuditError, match="invalid audit event name 'Run Result'"):
            log.record("Run Result", request_id="r", data={})
        with pytest.raises(AuditError, match="not JSON"):
            log.record("run.result", request_id="r", data={"x": float("nan")})
        assert log.head == (-1, GENESIS)


def test_concurrent_writers_share_fsyncs_and_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                log.record("run.host_call", request_id=f"t{n}-{i}", data={"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert errors == []
    report = verify(path)
    assert (report.ok, report.records) == (True, 320)


def test_rotation_keeps_one_chain_across_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 130, pad=1000, max_bytes=64 * 1024)
    rotated = rotated_files(path)
    assert [p.name for p in rotated] == ["audit.jsonl.000001", "audit.jsonl.000002"]
    first_of_second = json.loads(rotated[1].read_text().splitlines()[0])
    last_of_first = json.loads(rotated[0].read_text().splitlines()[-1])
    assert first_of_second["prev"] == last_of_first["hash"]
    assert first_of_second["seq"] == last_of_first["seq"] + 1
    report = verify(path)
    assert (report.ok, report.records) == (True, 130)
    with AuditLog(path) as log:  # reopening after rotation finds the head in the newest file
        assert log.head[0] == 129


def test_closed_log_refuses(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.close()
    with pytest.raises(AuditError, match="is closed"):
        log.record("error", request_id=None, data={})


def test_opening_a_log_cut_at_the_end_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]))
    with pytest.raises(AuditError, match="ends at seq 1 but its checkpoint records seq 2"):
        AuditLog(path)


def test_opening_a_torn_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(AuditError, match="the last line is incomplete"):
        AuditLog(path)


def test_unwritable_directory_is_an_audit_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="cannot open audit log"):
        AuditLog(tmp_path / "missing" / "audit.jsonl")


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path), pytest.raises(AuditError, match="is already open for writing"):
        AuditLog(path)
    with AuditLog(path) as again:  # released on close
        assert again.head == (-1, GENESIS)


def test_one_writer_syncs_once_per_record(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.jsonl") as log:
        for i in range(3):
            log.record("error", request_id=None, data={"i": i})
        assert log.syncs == 3
