"""The demo's temporary world: a workspace with a few files, the policy, the model's turns and
the host's configuration, all in one directory that the story deletes at the end.

The skills are the tree's own (``skills_wasm/``); the two the demo needs are built here when
they are missing or stale (the first C build fills Zig's cache and takes about a minute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from host.errors import AirlockError
from host.skills.build import build
from host.skills.registry import SkillRegistry

__all__ = ["DATA", "REPO", "SKILLS", "World", "ensure_skills", "make_world"]

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SKILLS = ("fs.list", "fs.delete")
USER = "alice"
AGENT_DOMAIN = "agent.localhost"
# The files the user finds in the workspace; the story deletes VICTIM (named in turns.toml).
FILES = {
    "notes.md": "# Notes\n\n- ship the demo\n",
    "old-draft.txt": "A draft nobody needs any more.\n",
    "budget.csv": "item,eur\nprosody,0\nwasmtime,0\n",
}
VICTIM = "old-draft.txt"


@dataclass(frozen=True)
class World:
    """Paths of one demo run, under ``root``."""

    root: Path
    workspace: Path
    config: Path
    audit: Path
    user_jid: str
    user_password: str
    agent_domain: str
    component_secret: str

    @property
    def victim(self) -> Path:
        """The file the user asks to delete."""
        return self.workspace / VICTIM


def ensure_skills(skills_dir: Path = REPO / "skills_wasm") -> list[str]:
    """Build the demo's skills whose build is missing or stale; returns the names built."""
    registry = SkillRegistry.load(skills_dir)
    built = []
    for name in SKILLS:
        skill = registry.get(name)
        try:
            skill.expected_sha256()
        except AirlockError:
            build(skill.folder)
            built.append(name)
    return built


def _toml(path: Path) -> str:
    """``path`` as a TOML basic string (JSON's escapes are valid TOML ones)."""
    return json.dumps(str(path))


def make_world(root: Path, *, component_port: int, secret: str) -> World:
    """Write the workspace, policy, turns and configuration under ``root``."""
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    for name, text in FILES.items():
        (workspace / name).write_text(text)
    user_jid = f"{USER}@localhost"
    policies = root / "policies"
    policies.mkdir()
    policy = (DATA / "policy.toml").read_text()
    policy = policy.replace('"WORKSPACE"', _toml(workspace)).replace("REQUESTER", user_jid)
    (policies / "demo.toml").write_text(policy)
    config = root / "airlock.toml"
    config.write_text(
        f"""# Written by `make demo` (host/demo/world.py).
[server]
host = "127.0.0.1"
port = {component_port}
mode = "component"
component_domain = "{AGENT_DOMAIN}"
component_secret = "${{AIRLOCK_DEMO_SECRET}}"

[llm]
provider = "scripted"
script = {_toml(DATA / "turns.toml")}

[agent]
name = "Airlock"
allowed_jids = ["{user_jid}"]

[memory]
path = "memory"

[airlock]
policy_dir = "policies"
skills_dir = {_toml(REPO / "skills_wasm")}
audit_path = "data/audit.jsonl"
confirm_path = "data/confirmations.sqlite"
"""
    )
    return World(
        root=root,
        workspace=workspace,
        config=config,
        audit=root / "data" / "audit.jsonl",
        user_jid=user_jid,
        user_password=secret + "-user",
        agent_domain=AGENT_DOMAIN,
        component_secret=secret,
    )
