"""The agent's gateway over the pipeline: which tools the model sees, and call outcomes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from host.agent.actions import ToolCall
from host.audit.log import AuditLog
from host.pipeline import Pipeline, PipelineGateway
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.skills.registry import SkillRegistry
from tests.pipeline.conftest import FakeRunner
from tests.pipeline.test_pipeline import POLICY
from tests.policy.conftest import policy_writer


def gateway(
    tmp_path: Path, skills: SkillRegistry, runner: FakeRunner
) -> tuple[PipelineGateway, AuditLog]:
    engine = PolicyEngine(load_policy_dir(policy_writer(tmp_path / "p")(POLICY)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    return PipelineGateway(Pipeline(engine, skills, audit, runner=runner), engine), audit


def test_tools_are_what_the_policy_could_allow(tmp_path: Path, registry: SkillRegistry) -> None:
    gw, audit = gateway(tmp_path, registry, FakeRunner())
    with audit:
        tools = gw.tools_for("alice@example.org")
        assert [t.name for t in tools] == ["echo", "fs.delete"]
        assert tools[0].parameters == registry.get("echo").manifest.parameters
        assert gw.tools_for("eve@example.org") == []
        assert gw.tools_for("not a jid") == []


def test_calls_become_outcomes(tmp_path: Path, registry: SkillRegistry) -> None:
    runner = FakeRunner()
    gw, audit = gateway(tmp_path, registry, runner)
    call = ToolCall(id="t1", name="fs.delete", arguments={"path": "x"})
    with audit:
        outcome = asyncio.run(
            gw.request(call, requester="alice@example.org", origin="chat", conversation_id="c")
        )
        denied = asyncio.run(
            gw.request(call, requester="eve@example.org", origin="chat", conversation_id="c")
        )
    assert outcome.status == "not_confirmed"  # no confirmer wired: never runs
    assert json.loads(outcome.text_for_model)["error"]["code"] == "not_confirmed"
    assert denied.status == "denied"
    assert denied.request_id is not None
    assert runner.specs == []
