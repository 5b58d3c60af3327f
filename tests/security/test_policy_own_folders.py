"""One requester's notes are not another's: `{requester}` folders, through the real sandbox."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.errors import AirlockError
from host.pipeline import Pipeline
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.skills.registry import SkillRegistry
from tests.policy.conftest import policy_writer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    try:
        registry = SkillRegistry.load(REPO / "skills_wasm")
        for name in ("notes.remember", "notes.recall"):
            registry.get(name).expected_sha256()
    except AirlockError as exc:
        pytest.skip(f"the notes skills are not built here: {exc}")
    notes = tmp_path / "notes"
    notes.mkdir(mode=0o700)
    policy = policy_writer(tmp_path / "policies")(f"""
        [[rule]]
        id = "remember"
        skills = ["notes.remember"]
        requesters = ["*"]
        effect = "allow"
        [rule.grant.dirs.notes]
        path = "{notes}/{{requester}}"
        access = "rw"

        [[rule]]
        id = "recall"
        skills = ["notes.recall"]
        requesters = ["*"]
        effect = "allow"
        [rule.grant.dirs.notes]
        path = "{notes}/{{requester}}"
    """)
    audit = AuditLog(tmp_path / "audit.jsonl")
    return Pipeline(PolicyEngine(load_policy_dir(policy)), registry, audit)


def ask(pipeline: Pipeline, who: str, skill: str, **arguments: object) -> dict[str, object]:
    result = pipeline.handle(skill, arguments, requester=who, origin="chat", conversation_id=who)
    assert result.status == "done", result.message
    return result.as_json()


def test_policy_requester_folders_keep_notes_apart(pipeline: Pipeline, tmp_path: Path) -> None:
    ask(pipeline, "alice@example.org", "notes.remember", text="the launch code is 0000")
    bob = ask(pipeline, "bob@example.org", "notes.recall")
    alice = ask(pipeline, "alice@example.org", "notes.recall")
    assert bob["total"] == 0
    assert alice["total"] == 1
    assert "launch code" in json.dumps(alice["notes"])
    folder = tmp_path / "notes" / "alice@example.org"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == [
        "alice@example.org",
        "bob@example.org",
    ]
