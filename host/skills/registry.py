"""The registry of installed skills: every ``*/skill.toml`` under one root, validated.

The agent uses it to list tools for the model, the pipeline to find the module to run and the
digest the sandbox must check before running it::

    registry = SkillRegistry.load(Path("skills_wasm"))
    skill = registry.get("fs.read")
    digest = skill.module_sha256()  # SkillError if not built or not what was built
    spec = grant.run_spec(skill.module_path, input=args, expected_sha256=digest)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from host.errors import SkillError
from host.skills.lock import lock_path, read_lock
from host.skills.manifest import Manifest, load_manifest

MANIFEST_FILE = "skill.toml"
MAX_MODULE_BYTES = 32 * 1024 * 1024  # the largest skill shipped is ~100 KiB; refuse giants


@dataclass(frozen=True)
class Skill:
    """One installed skill: its manifest, its folder, and where its module is."""

    manifest: Manifest
    folder: Path
    manifest_sha256: str

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def module_path(self) -> Path:
        """The Wasm module's path (it may not exist until the skill is built)."""
        return self.folder / self.manifest.module_name

    @property
    def lock_path(self) -> Path:
        return lock_path(self.module_path)

    def expected_sha256(self) -> str:
        """The digest the module must have: the manifest's pin, else the build lock's.

        Raises SkillError when there is no lock (never built), when the lock belongs to another
        skill or to an older manifest, or when the lock disagrees with a pinned digest.
        """
        pinned = self.manifest.sha256
        if pinned is not None and not self.lock_path.exists():
            return pinned
        lock = read_lock(self.module_path)
        if lock.name != self.name:
            raise SkillError(
                f"{self.lock_path} was written for skill {lock.name!r}, not {self.name!r}",
                hint="rebuild the skill with `airlock skill build`",
            )
        if lock.manifest_sha256 != self.manifest_sha256:
            raise SkillError(
                f"{self.folder / MANIFEST_FILE} changed after {self.name} was built",
                hint="rebuild so the module is checked against the manifest you have now",
            )
        if pinned is not None and pinned != lock.module_sha256:
            raise SkillError(
                f"{self.name}: the module built ({lock.module_sha256[:12]}...) is not the one "
                f"the manifest pins ({pinned[:12]}...)",
                hint="remove `sha256` from skill.toml or build the pinned source",
            )
        return lock.module_sha256

    def read_module(self) -> bytes:
        """The module's bytes, checked against :meth:`expected_sha256` (SkillError if not)."""
        expected = self.expected_sha256()
        try:
            size = self.module_path.stat().st_size
            if size > MAX_MODULE_BYTES:
                raise SkillError(
                    f"{self.module_path} is {size} bytes, over the {MAX_MODULE_BYTES} byte cap"
                )
            data = self.module_path.read_bytes()
        except FileNotFoundError:
            raise SkillError(
                f"{self.name} is not built: {self.module_path} does not exist",
                hint="build it with `airlock skill build`",
            ) from None
        except OSError as exc:
            raise SkillError(f"cannot read {self.module_path}: {exc.strerror}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise SkillError(
                f"{self.name}: module digest {actual[:16]}... does not match the recorded "
                f"{expected[:16]}...; the module was changed after it was built",
                hint="rebuild with `airlock skill build` if you changed it on purpose",
            )
        return data

    def module_sha256(self) -> str:
        """The module's digest, verified against its manifest pin or build lock."""
        return hashlib.sha256(self.read_module()).hexdigest()


class SkillRegistry:
    """All skills found under one root folder, by name."""

    def __init__(self, root: Path, skills: dict[str, Skill]) -> None:
        self.root = root
        self._skills = skills

    @classmethod
    def load(cls, root: Path) -> SkillRegistry:
        """Load every ``<root>/*/skill.toml``. Any invalid manifest or duplicate name fails the
        whole load (a deployer must not run with half their skills silently missing)."""
        if not root.is_dir():
            raise SkillError(f"skill root {root} is not a directory")
        skills: dict[str, Skill] = {}
        for manifest_path in sorted(root.glob(f"*/{MANIFEST_FILE}")):
            skill = load_skill(manifest_path.parent)
            if skill.name in skills:
                raise SkillError(
                    f"two skills are named {skill.name!r}: {skills[skill.name].folder} and "
                    f"{skill.folder}",
                    hint="skill names must be unique under one root",
                )
            skills[skill.name] = skill
        return cls(root, skills)

    def get(self, name: str) -> Skill:
        """The skill called ``name``; SkillError if there is none."""
        try:
            return self._skills[name]
        except KeyError:
            raise SkillError(
                f"no skill named {name!r} under {self.root}",
                hint=f"known skills: {', '.join(sorted(self._skills)) or 'none'}",
            ) from None

    def all(self) -> list[Skill]:
        """Every skill, sorted by name."""
        return [self._skills[n] for n in sorted(self._skills)]

    def __iter__(self) -> Iterator[Skill]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._skills)

    def __contains__(self, name: object) -> bool:
        return name in self._skills


def load_skill(folder: Path) -> Skill:
    """The skill in ``folder`` (its ``skill.toml`` validated); SkillError if invalid."""
    manifest_path = folder / MANIFEST_FILE
    manifest = load_manifest(manifest_path)
    digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    module = (folder / manifest.module_name).resolve()
    if not module.is_relative_to(folder.resolve()):
        raise SkillError(
            f"{manifest_path}: `module` = {manifest.module_name!r} points outside the skill folder",
            hint="a module path is relative to the skill folder, e.g. build/my_skill.wasm",
        )
    return Skill(manifest=manifest, folder=folder, manifest_sha256=digest)
