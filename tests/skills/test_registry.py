"""The registry finds, validates and digest-checks skills."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from host.errors import SkillError
from host.skills.lock import BuildLock, write_lock
from host.skills.registry import SkillRegistry, load_skill

MANIFEST = """
name = "{name}"
version = "0.1.0"
description = "A test skill."
[parameters]
type = "object"
"""


def make_skill(root: Path, folder: str, name: str, module: bytes | None = b"\0asm") -> Path:
    d = root / folder
    (d / "build").mkdir(parents=True)
    (d / "skill.toml").write_text(MANIFEST.format(name=name))
    if module is not None:
        wasm = d / "build" / f"{name.replace('.', '_')}.wasm"
        wasm.write_bytes(module)
        write_lock(
            wasm,
            BuildLock(
                name=name,
                version="0.1.0",
                module_sha256=hashlib.sha256(module).hexdigest(),
                manifest_sha256=hashlib.sha256((d / "skill.toml").read_bytes()).hexdigest(),
                toolchain="test",
            ),
        )
    return d


def test_load_finds_every_skill_sorted(tmp_path: Path) -> None:
    make_skill(tmp_path, "b", "fs.read")
    make_skill(tmp_path, "a", "echo")
    reg = SkillRegistry.load(tmp_path)
    assert [s.name for s in reg.all()] == ["echo", "fs.read"]
    assert "echo" in reg
    assert reg.get("fs.read").module_path == tmp_path / "b" / "build" / "fs_read.wasm"


def test_verified_digest_matches_the_lock(tmp_path: Path) -> None:
    make_skill(tmp_path, "e", "echo", module=b"\0asm-module")
    skill = SkillRegistry.load(tmp_path).get("echo")
    assert skill.module_sha256() == hashlib.sha256(b"\0asm-module").hexdigest()


def test_unknown_skill_names_the_known_ones(tmp_path: Path) -> None:
    make_skill(tmp_path, "e", "echo")
    with pytest.raises(SkillError, match=r"no skill named 'nope'") as info:
        SkillRegistry.load(tmp_path).get("nope")
    assert info.value.hint == "known skills: echo"


def test_duplicate_names_fail_the_load(tmp_path: Path) -> None:
    make_skill(tmp_path, "a", "echo")
    make_skill(tmp_path, "b", "echo")
    with pytest.raises(SkillError, match="two skills are named 'echo'"):
        SkillRegistry.load(tmp_path)


def test_unbuilt_skill_loads_but_cannot_be_run(tmp_path: Path) -> None:
    make_skill(tmp_path, "e", "echo", module=None)
    skill = SkillRegistry.load(tmp_path).get("echo")
    with pytest.raises(SkillError, match="has no build lock") as info:
        skill.module_sha256()
    assert info.value.hint == "build the skill with `airlock skill build <skill folder>`"


def test_manifest_edited_after_build_is_refused(tmp_path: Path) -> None:
    d = make_skill(tmp_path, "e", "echo")
    (d / "skill.toml").write_text("destructive = false\n" + MANIFEST.format(name="echo"))
    with pytest.raises(SkillError, match="changed after echo was built"):
        SkillRegistry.load(tmp_path).get("echo").module_sha256()


def test_module_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "evil"
    d.mkdir()
    (d / "skill.toml").write_text('module = "../../x.wasm"\n' + MANIFEST.format(name="evil"))
    with pytest.raises(SkillError, match="points outside the skill folder"):
        load_skill(d)


def test_invalid_manifest_names_file_and_key(tmp_path: Path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "skill.toml").write_text(MANIFEST.format(name="Bad Name"))
    with pytest.raises(SkillError, match=r"skill.toml: `name`: String should match pattern"):
        SkillRegistry.load(tmp_path)


PIN = "a" * 64


def test_pinned_digest_without_a_lock(tmp_path: Path) -> None:
    d = make_skill(tmp_path, "p", "pinned", module=None)
    (d / "skill.toml").write_text(f'sha256 = "{PIN}"\n' + MANIFEST.format(name="pinned"))
    (d / "build" / "pinned.wasm").write_bytes(b"\0asm")
    skill = SkillRegistry.load(tmp_path).get("pinned")
    assert skill.expected_sha256() == PIN
    with pytest.raises(SkillError, match="does not match the recorded"):
        skill.module_sha256()


def test_lock_disagreeing_with_the_pin_is_refused(tmp_path: Path) -> None:
    d = make_skill(tmp_path, "p", "pinned")
    (d / "skill.toml").write_text(f'sha256 = "{PIN}"\n' + MANIFEST.format(name="pinned"))
    module = d / "build" / "pinned.wasm"
    write_lock(
        module,
        BuildLock(
            name="pinned",
            version="0.1.0",
            module_sha256=hashlib.sha256(module.read_bytes()).hexdigest(),
            manifest_sha256=hashlib.sha256((d / "skill.toml").read_bytes()).hexdigest(),
            toolchain="test",
        ),
    )
    with pytest.raises(SkillError, match="is not the one the manifest pins"):
        SkillRegistry.load(tmp_path).get("pinned").expected_sha256()


def test_lock_of_another_skill_is_refused(tmp_path: Path) -> None:
    d = make_skill(tmp_path, "e", "echo")
    lock = d / "build" / "echo.lock"
    lock.write_text(lock.read_text().replace('"name": "echo"', '"name": "other"'))
    with pytest.raises(SkillError, match="was written for skill 'other', not 'echo'"):
        SkillRegistry.load(tmp_path).get("echo").module_sha256()
