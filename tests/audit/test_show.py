"""`airlock audit show` and `head`: selecting whole requests, times, JSON output, anchors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.audit.query import RecordFilter, select
from host.cli.main import main
from tests.audit.conftest import fixed_clock


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Three requests: alice echo (allow, ran), bob fs.delete (deny), alice fs.read (invalid)."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, clock=fixed_clock()) as audit:
        audit.record(
            "request.received",
            request_id="r1",
            data={"skill": "echo", "requester": "alice@example.org"},
        )
        audit.record("policy.decision", request_id="r1", data={"effect": "allow", "rule": "e"})
        audit.record("run.result", request_id="r1", data={"status": "ok"})
        audit.record(
            "request.received",
            request_id="r2",
            data={"skill": "fs.delete", "requester": "bob@example.org"},
        )
        audit.record("policy.decision", request_id="r2", data={"effect": "deny", "rule": None})
        audit.record(
            "request.invalid",
            request_id="r3",
            data={"skill": "fs.read", "requester": "alice@example.org", "error": "x"},
        )
    return path


def ids(records: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["seq"], r["event"]) for r in records]


def test_filters_select_whole_requests(log: Path) -> None:
    assert ids(select([log], RecordFilter(requester="alice@example.org"))) == [
        (0, "request.received"),
        (1, "policy.decision"),
        (2, "run.result"),
    ]
    assert ids(select([log], RecordFilter(decision="deny"))) == [
        (3, "request.received"),
        (4, "policy.decision"),
    ]
    assert select([log], RecordFilter(requester="alice@example.org", decision="deny")) == []
    assert ids(select([log], RecordFilter(request_id="r3"))) == [(5, "request.invalid")]


def test_time_window(log: Path) -> None:
    window = RecordFilter(since="2026-01-01T00:00:01", until="2026-01-01T00:00:02.5")
    assert ids(select([log], window)) == [(1, "policy.decision"), (2, "run.result")]


def test_cli_show_table_and_json(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "show", str(log), "--skill", "fs.delete"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "     3 2026-01-01T00:00:03.000000Z request.received   r2 skill=fs.delete "
        "requester=bob@example.org",
        "     4 2026-01-01T00:00:04.000000Z policy.decision    r2 effect=deny",
    ]
    assert main(["audit", "show", str(log), "--request-id", "r1", "--json"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in records] == [0, 1, 2]


def test_cli_head_then_verify_with_the_anchor(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "head", str(log)]) == 0
    anchor = capsys.readouterr().out.strip()
    assert anchor.startswith("5:")
    assert main(["audit", "verify", str(log), "--anchor", anchor]) == 0
    assert main(["audit", "verify", str(log), "--anchor", "5:" + "0" * 64]) == 1
    assert "differs from the anchor in --anchor" in capsys.readouterr().out
