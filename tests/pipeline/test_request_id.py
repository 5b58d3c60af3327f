"""A caller may name its request (to cite it in a pending reference); the name is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.errors import RequestError
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
"""


def make(tmp_path: Path, registry: SkillRegistry) -> tuple[Pipeline, AuditLog]:
    engine = PolicyEngine(load_policy_dir(policy_writer(tmp_path / "p")(POLICY)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    return Pipeline(engine, registry, audit, runner=FakeRunner()), audit


def test_the_callers_request_id_names_every_record(tmp_path: Path, registry: SkillRegistry) -> None:
    pipeline, audit = make(tmp_path, registry)
    with audit:
        out = pipeline.handle(
            "echo",
            {"text": "a"},
            requester="alice@example.org",
            origin="protocol",
            conversation_id="c",
            request_id="chosen_Id-1",
        )
    assert out.request_id == "chosen_Id-1"
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert {json.loads(line)["request_id"] for line in lines} == {"chosen_Id-1"}


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "../etc", "id\n", "é"])
def test_a_malformed_request_id_is_refused_before_any_record(
    tmp_path: Path, registry: SkillRegistry, bad: str
) -> None:
    pipeline, audit = make(tmp_path, registry)
    with audit, pytest.raises(RequestError, match="is not 1 to 64 of A-Z a-z 0-9 _ -"):
        pipeline.handle(
            "echo",
            {"text": "a"},
            requester="alice@example.org",
            origin="protocol",
            conversation_id="c",
            request_id=bad,
        )
    path = tmp_path / "audit.jsonl"
    assert not path.exists() or path.read_text() == ""
