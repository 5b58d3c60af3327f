"""The build lock: which module digest a skill's build produced, bound to its manifest.

Compiled modules are not committed (toolchains differ between machines, so their bytes do too);
``airlock skill build`` therefore records the digest of what it just built in
``build/<module stem>.lock`` next to the module. The registry refuses a module whose digest
differs from its lock, and a lock whose manifest digest differs from the manifest on disk (the
manifest was edited after the build, so the import check that the build ran is stale).

A manifest may instead pin ``sha256`` itself (for a module distributed prebuilt); the pin then
wins and the lock must agree with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from host.errors import SkillError

LOCK_VERSION = 1
# A lock is a few hundred bytes of JSON; the cap keeps a hostile one from costing memory.
MAX_LOCK_BYTES = 16 * 1024
SHA256_HEX = r"^[0-9a-f]{64}$"


class BuildLock(BaseModel):
    """The content of a ``.lock`` file written by ``airlock skill build``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Annotated[int, Field(ge=LOCK_VERSION, le=LOCK_VERSION)] = LOCK_VERSION
    name: str
    version: str
    module_sha256: Annotated[str, Field(pattern=SHA256_HEX)]
    manifest_sha256: Annotated[str, Field(pattern=SHA256_HEX)]
    toolchain: str  # e.g. "zig 0.13.0", for people reading the lock; not checked


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read whole: modules are capped at a few MiB)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_path(module_path: Path) -> Path:
    """Where the lock of ``module_path`` lives: same folder, ``.lock`` suffix."""
    return module_path.with_suffix(".lock")


def write_lock(module_path: Path, lock: BuildLock) -> Path:
    """Write ``lock`` next to ``module_path`` and return the lock's path."""
    path = lock_path(module_path)
    path.write_text(json.dumps(lock.model_dump(), indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def read_lock(module_path: Path) -> BuildLock:
    """Read the lock of ``module_path``; a missing or malformed lock is a SkillError."""
    path = lock_path(module_path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_LOCK_BYTES + 1)
    except FileNotFoundError:
        raise SkillError(
            f"{module_path} has no build lock ({path.name})",
            hint="build the skill with `airlock skill build <skill folder>`",
        ) from None
    except OSError as exc:
        raise SkillError(f"cannot read build lock {path}: {exc.strerror}") from None
    rebuild = "rebuild the skill with `airlock skill build`"
    if len(raw) > MAX_LOCK_BYTES:
        raise SkillError(f"{path}: malformed build lock: over {MAX_LOCK_BYTES} bytes", hint=rebuild)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkillError(
            f"{path}: malformed build lock: not UTF-8 text (bad byte at offset {exc.start})",
            hint=rebuild,
        ) from None
    try:
        return BuildLock.model_validate_json(text)
    except ValidationError as exc:
        raise SkillError(
            f"{path}: malformed build lock: {exc.errors()[0]['msg']}", hint=rebuild
        ) from None
