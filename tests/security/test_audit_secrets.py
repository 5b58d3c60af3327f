"""Secrets and outputs never reach the audit file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from host.audit.log import AuditLog
from host.audit.store import ContentStore, output_summary


def test_audit_known_secret_values_never_reach_the_file(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdef"
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, secret_values=[secret]) as log:
        log.record(
            "run.host_call",
            request_id="r",
            data={
                "url": f"https://api.example.org/?key={secret}",
                "headers": {"Authorization": f"Bearer {secret}"},
                "nested": [[f"prefix{secret}suffix"]],
                "password": "hunter2",
            },
        )
    text = path.read_text()
    assert secret not in text
    assert "hunter2" not in text
    assert text.count("[redacted]") == 4


def test_audit_outputs_are_digests_not_content(tmp_path: Path) -> None:
    output = b"personal data the skill printed\n" * 100
    store = ContentStore(tmp_path / "outputs")
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.record("run.result", request_id="r", data={"stdout": output_summary(output)})
        log.record("run.result", request_id="s", data={"stdout": output_summary(output, store)})
    text = path.read_text()
    digest = hashlib.sha256(output).hexdigest()
    assert "personal data" not in text
    assert text.count(digest) == 2
    assert f'"bytes":{len(output)}' in text
    assert store.get(digest) == output
