"""The whole path without XMPP: order of audit records, what runs, with exactly which grant."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.audit.sink import JsonValue
from host.errors import AuditError
from host.pipeline import Pipeline
from host.policy.decision import Decision
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.request import CapabilityRequest, action_digest
from host.skills.manifest import Manifest
from host.skills.registry import SkillRegistry
from tests.audit.conftest import verify
from tests.pipeline.conftest import FakeRunner
from tests.policy.conftest import policy_writer

REPO = Path(__file__).resolve().parents[2]

POLICY = """
[[rule]]
id = "echo"
skills = ["echo"]
requesters = ["alice@example.org"]
effect = "allow"
[rule.grant.limits]
fuel = 100_000_000

[[rule]]
id = "delete"
skills = ["fs.delete"]
requesters = ["alice@example.org"]
effect = "confirm"
[rule.confirm]
approvers = ["bob@example.org"]
[rule.grant.dirs.workspace]
path = "/srv/airlock/ws"
access = "rw"
"""


@dataclass
class FakeConfirmer:
    answer: bool
    seen: list[tuple[str, Decision]] = field(default_factory=list)

    def confirm(
        self, request: CapabilityRequest, decision: Decision, digest: str, manifest: Manifest
    ) -> bool:
        assert digest == action_digest(request, decision.grant)
        self.seen.append((digest, decision))
        return self.answer


@dataclass
class FailingAudit:
    """An audit sink that cannot write one kind of event."""

    fail_on: str
    events: list[str] = field(default_factory=list)

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        if event == self.fail_on:
            raise AuditError("cannot write audit log: No space left on device")
        self.events.append(event)
        return "0" * 64


def events(path: Path) -> list[str]:
    return [json.loads(line)["event"] for line in path.read_text().splitlines()]


def make(tmp_path: Path, registry: SkillRegistry, **options: object) -> tuple[Pipeline, AuditLog]:
    engine = PolicyEngine(load_policy_dir(policy_writer(tmp_path / "p")(POLICY)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    return Pipeline(engine, registry, audit, **options), audit  # type: ignore[arg-type]


def test_allowed_request_runs_in_the_sandbox_and_is_audited_in_order(
    tmp_path: Path, registry: SkillRegistry
) -> None:
    pipeline, audit = make(tmp_path, registry)
    with audit:
        result = pipeline.handle(
            "echo",
            {"text": "hi"},
            requester="Alice@example.org",
            origin="chat",
            conversation_id="c",
        )
    assert (result.status, result.as_json()) == ("done", {"text": "hi"})
    path = tmp_path / "audit.jsonl"
    assert events(path) == ["request.received", "policy.decision", "run.started", "run.result"]
    decision = json.loads(path.read_text().splitlines()[1])["data"]
    assert (decision["effect"], decision["rule"], len(decision["action_digest"])) == (
        "allow",
        "echo",
        64,
    )
    run = json.loads(path.read_text().splitlines()[3])["data"]
    assert run["status"] == "ok"
    assert run["stdout"]["bytes"] > 0
    assert "hi" not in json.dumps(run)  # outputs are digests, never content
    assert verify(path).ok


def test_denied_request_never_reaches_the_sandbox(tmp_path: Path, registry: SkillRegistry) -> None:
    runner = FakeRunner()
    pipeline, audit = make(tmp_path, registry, runner=runner)
    with audit:
        result = pipeline.handle(
            "echo", {"text": "hi"}, requester="eve@example.org", origin="chat", conversation_id="c"
        )
    assert result.status == "denied"
    assert result.as_json()["error"]["code"] == "denied"
    assert runner.specs == []
    assert events(tmp_path / "audit.jsonl") == ["request.received", "policy.decision"]


def test_invalid_request_is_audited_and_refused(tmp_path: Path, registry: SkillRegistry) -> None:
    runner = FakeRunner()
    pipeline, audit = make(tmp_path, registry, runner=runner)
    with audit:
        result = pipeline.handle(
            "echo", {"text": 5}, requester="alice@example.org", origin="chat", conversation_id="c"
        )
    assert result.status == "invalid"
    assert result.message.startswith("argument `text` must be a string")
    assert runner.specs == []
    assert events(tmp_path / "audit.jsonl") == ["request.invalid"]


@pytest.mark.parametrize("answer", [False, True])
def test_confirm_runs_only_when_confirmed_and_with_exactly_the_grant(
    tmp_path: Path, registry: SkillRegistry, answer: bool
) -> None:
    runner, confirmer = FakeRunner(), FakeConfirmer(answer)
    pipeline, audit = make(tmp_path, registry, runner=runner, confirmer=confirmer)
    with audit:
        result = pipeline.handle(
            "fs.delete",
            {"path": "x"},
            requester="alice@example.org",
            origin="chat",
            conversation_id="c",
        )
    assert len(confirmer.seen) == 1
    decision = confirmer.seen[0][1]
    assert decision.approvers is not None
    assert decision.approvers.jids == ("bob@example.org",)
    if not answer:
        assert (result.status, runner.specs) == ("not_confirmed", [])
        return
    assert result.status == "done"
    spec = runner.specs[0]
    assert spec == decision.grant.run_spec(
        registry.get("fs.delete").module_path,
        input=b'{"path": "x"}',
        expected_sha256=registry.get("fs.delete").expected_sha256(),
    )
    assert [(str(d.host_path), d.guest_path, d.access) for d in spec.dirs] == [
        ("/srv/airlock/ws", "/workspace", "rw")
    ]


def test_confirm_without_a_confirmer_is_not_confirmed(
    tmp_path: Path, registry: SkillRegistry
) -> None:
    runner = FakeRunner()
    pipeline, audit = make(tmp_path, registry, runner=runner)
    with audit:
        result = pipeline.handle(
            "fs.delete",
            {"path": "x"},
            requester="alice@example.org",
            origin="chat",
            conversation_id="c",
        )
    assert (result.status, runner.specs) == ("not_confirmed", [])


@pytest.mark.parametrize("fail_on", ["request.received", "policy.decision", "run.started"])
def test_audit_failure_stops_everything_after_it(
    tmp_path: Path, registry: SkillRegistry, fail_on: str
) -> None:
    runner = FakeRunner()
    engine = PolicyEngine(load_policy_dir(policy_writer(tmp_path / "p")(POLICY)))
    audit = FailingAudit(fail_on)
    pipeline = Pipeline(engine, registry, audit, runner=runner)
    with pytest.raises(AuditError, match="No space left on device"):
        pipeline.handle(
            "echo",
            {"text": "hi"},
            requester="alice@example.org",
            origin="chat",
            conversation_id="c",
        )
    assert runner.specs == []
