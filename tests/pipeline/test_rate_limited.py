"""A spent rate limit is its own outcome (``rate_limited``), told by the decision's flag."""

from __future__ import annotations

import json
from pathlib import Path

from host.audit.log import AuditLog
from host.pipeline import Pipeline
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.skills.registry import SkillRegistry
from tests.pipeline.conftest import FakeRunner
from tests.policy.conftest import policy_writer

POLICY = """
[[rule]]
id = "echo"
skills = ["echo"]
requesters = ["alice@example.org"]
effect = "allow"
[rule.rate]
per_minute = 0.001
burst = 1

[[rule]]
id = "worded-like-a-limit"
skills = ["echo"]
requesters = ["bob@example.org"]
effect = "deny"
reason = "rate limit of rule echo reached; try again in 1 s"
"""


def make(tmp_path: Path, registry: SkillRegistry) -> tuple[Pipeline, AuditLog, FakeRunner]:
    engine = PolicyEngine(load_policy_dir(policy_writer(tmp_path / "p")(POLICY)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    runner = FakeRunner()
    return Pipeline(engine, registry, audit, runner=runner), audit, runner


def test_a_spent_rate_limit_is_rate_limited_and_never_runs(
    tmp_path: Path, registry: SkillRegistry
) -> None:
    pipeline, audit, runner = make(tmp_path, registry)
    with audit:
        first = pipeline.handle(
            "echo", {"text": "a"}, requester="alice@example.org", origin="chat", conversation_id="c"
        )
        second = pipeline.handle(
            "echo", {"text": "b"}, requester="alice@example.org", origin="chat", conversation_id="c"
        )
    assert first.decision is not None  # the fake runner's output is not echo's: it "failed"
    assert (first.decision.effect, first.decision.rate_limited) == ("allow", False)
    assert second.status == "rate_limited"
    assert second.decision is not None
    assert (second.decision.effect, second.decision.rate_limited) == ("deny", True)
    assert second.message.startswith("rate limit of rule echo reached")
    assert second.as_json()["error"]["code"] == "rate_limited"
    assert len(runner.specs) == 1
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["data"]["effect"] == "deny"


def test_a_deny_worded_like_a_rate_limit_stays_a_denial(
    tmp_path: Path, registry: SkillRegistry
) -> None:
    pipeline, audit, runner = make(tmp_path, registry)
    with audit:
        out = pipeline.handle(
            "echo", {"text": "a"}, requester="bob@example.org", origin="chat", conversation_id="c"
        )
    assert out.status == "denied"
    assert out.decision is not None
    assert out.decision.rate_limited is False
    assert runner.specs == []
