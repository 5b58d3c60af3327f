"""host/demo/world.py: the demo's temporary world, and the skills it builds when missing."""

from __future__ import annotations

import importlib.util
import shutil
import tomllib
from pathlib import Path

import pytest

from host.config import load_config
from host.demo.world import FILES, REPO, ensure_skills, make_world
from host.policy.engine import PolicyEngine
from host.skills.registry import SkillRegistry


def test_world_is_a_valid_configuration_with_the_demo_policy(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", component_port=5999, secret="s3")
    assert sorted(p.name for p in world.workspace.iterdir()) == sorted(FILES)
    assert world.victim.read_text() == FILES["old-draft.txt"]
    config = load_config(world.config, {"AIRLOCK_DEMO_SECRET": "s3"})
    assert config.server.effective_port == 5999
    assert config.server.component_secret is not None
    assert config.server.component_secret.get_secret_value() == "s3"
    # The secret is read from the environment, never written into the file.
    assert "s3" not in world.config.read_text()
    assert config.airlock.actions is True
    assert config.airlock.audit_path == world.audit
    # Relative paths in [airlock] are resolved against the configuration file's folder.
    assert config.airlock.confirm_path == world.root / "data" / "confirmations.sqlite"
    assert config.agent.allowed_jids == ["alice@localhost"]
    engine = PolicyEngine.from_dir(config.airlock.policy_dir)
    rules = {r.id: r.effect for r in engine.policy.rules}
    assert rules == {"demo-list": "allow", "demo-delete": "confirm"}
    script = tomllib.loads((REPO / "host" / "demo" / "data" / "turns.toml").read_text())
    calls = [e["turns"][0]["tool_calls"][0] for e in script["exchanges"]]
    assert calls == [
        {"name": "fs.list", "arguments": {"path": "."}},
        {"name": "fs.delete", "arguments": {"path": "old-draft.txt"}},
    ]


@pytest.mark.toolchain
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ziglang") is None, reason="zig is not installed")
def test_missing_skills_are_built_once(tmp_path: Path) -> None:
    for folder in ("fs_list", "fs_delete"):
        shutil.copytree(
            REPO / "skills_wasm" / folder,
            tmp_path / folder,
            ignore=shutil.ignore_patterns("build"),
        )
    assert ensure_skills(tmp_path) == ["fs.list", "fs.delete"]
    assert ensure_skills(tmp_path) == []
    registry = SkillRegistry.load(tmp_path)
    assert len(registry.get("fs.delete").expected_sha256()) == 64
