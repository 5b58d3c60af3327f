"""Shared fixtures: the shipped skills (skipped where they are not built) and a fake runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from host.errors import AirlockError
from host.skills.registry import SkillRegistry
from sandbox.spec import HostCallHandler, RunResult, RunSpec, Status

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> SkillRegistry:
    try:
        found = SkillRegistry.load(REPO / "skills_wasm")
        found.get("echo").expected_sha256()
        found.get("fs.delete")
    except AirlockError as exc:
        pytest.skip(f"the shipped skills are not built here: {exc}")
    return found


@dataclass
class FakeRunner:
    """Stands in for the sandbox: records what it was asked to run."""

    specs: list[RunSpec] = field(default_factory=list)

    def __call__(self, spec: RunSpec, host_calls: HostCallHandler | None) -> RunResult:
        self.specs.append(spec)
        return RunResult(status=Status.OK, exit_code=0, stdout='{"path": "x", "deleted": "file"}')
