"""Every shipped skill builds from source and passes its example cases in the real sandbox."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.skills.build import RUSTC, build, language
from host.skills.examples import Case, load_examples
from host.skills.registry import MANIFEST_FILE, Skill
from host.skills.testing import Runner, run_case, warm_runner

REPO = Path(__file__).resolve().parents[2]
SKILLS = sorted(p.parent for p in (REPO / "skills_wasm").glob(f"*/{MANIFEST_FILE}"))
REQUIRED = {
    "echo", "clock", "calc", "fs.list", "fs.read", "fs.search", "fs.write", "fs.delete",
    "fs.move", "http.fetch", "web.search", "notes.remember", "notes.recall",
}  # fmt: skip
CASES = [
    pytest.param(folder, case, id=f"{folder.name}: {case.name}")
    for folder in SKILLS
    for case in load_examples(folder)
]

pytestmark = pytest.mark.toolchain


def toolchain_missing(entry: str) -> str | None:
    if entry in {"main.c", "main.zig"} and importlib.util.find_spec("ziglang") is None:
        return "the ziglang package (Zig toolchain) is not installed"
    if entry == "main.rs" and not Path(RUSTC).exists():
        return f"{RUSTC} is missing (apt-get install rustc libstd-rust-dev-wasm32)"
    return None


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Skill]:
    """Each skill copied out of the tree and built there (the tree's build/ stays untouched)."""
    root = tmp_path_factory.mktemp("skills")
    done: dict[Path, Skill] = {}
    for folder in SKILLS:
        if toolchain_missing(language(folder)):
            continue
        copy = root / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("build", "target"))
        done[folder] = build(copy).skill
    return done


@pytest.fixture(scope="session")
def runner() -> Iterator[Runner]:
    """The sandbox's warm pool, shared by every case of the session."""
    pytest.importorskip("sandbox.supervisor", reason="sandbox.supervisor not available")
    with warm_runner() as run:
        yield run


def test_every_required_skill_ships() -> None:
    from host.skills.registry import SkillRegistry

    names = {s.name for s in SkillRegistry.load(REPO / "skills_wasm").all()}
    assert names >= REQUIRED, f"missing: {sorted(REQUIRED - names)}"


def test_every_language_has_a_skill() -> None:
    entries = {language(folder) for folder in SKILLS}
    assert entries == {"main.c", "main.zig", "main.rs", "main.wat"}


@pytest.mark.parametrize(("folder", "case"), CASES)
def test_example_case(built: dict[Path, Skill], runner: Runner, folder: Path, case: Case) -> None:
    missing = toolchain_missing(language(folder))
    if missing:
        pytest.skip(missing)
    skill = built[folder]
    report = run_case(skill, case, runner, skill.module_sha256())
    assert report.problems == ()
