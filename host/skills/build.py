"""``airlock skill build``: compile a skill folder to its module, check it, record its digest.

The language is chosen by the entry source in the folder (exactly one of them):

=========  ==================================================================================
main.wat   WebAssembly text, assembled in-process by wasmtime
main.c     C, every ``*.c`` of the folder plus the SDK in skills_wasm/sdk/c, with ``zig cc``
main.zig   Zig, with the SDK module ``airlock`` from skills_wasm/sdk/zig
main.rs    Rust (std only), Debian's /usr/bin/rustc, with the SDK crate from skills_wasm/sdk/rust
=========  ==================================================================================

After compiling, the module's imports are checked against the manifest (see
:func:`check_imports`) and ``build/<module>.lock`` records its digest, bound to the manifest's.
Zig keeps its caches in ``~/.cache/airlock/zig`` so only the first build on a machine pays for
libc (about 40 s).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import wasmtime

from host.errors import SkillError
from host.skills.inspect import ModuleInfo, inspect_module
from host.skills.lock import BuildLock, write_lock
from host.skills.registry import MAX_MODULE_BYTES, Skill, load_skill

SDK = Path(__file__).resolve().parents[2] / "skills_wasm" / "sdk"
RUSTC = "/usr/bin/rustc"  # Debian's; rustup's shim on PATH cannot add wasm targets
COMPILE_TIMEOUT_S = 300.0  # a cold Zig libc cache takes ~40 s on 2 cores; beyond 5 min it hangs
ENTRIES = ("main.wat", "main.c", "main.zig", "main.rs")


@dataclass(frozen=True)
class Built:
    """What one build produced."""

    skill: Skill
    info: ModuleInfo
    toolchain: str
    warnings: tuple[str, ...]


def zig_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "airlock" / "zig"


def language(folder: Path) -> str:
    """The entry source of ``folder`` ("main.c", ...); SkillError unless exactly one exists."""
    found = [name for name in ENTRIES if (folder / name).is_file()]
    if len(found) != 1:
        raise SkillError(
            f"{folder}: expected exactly one of {', '.join(ENTRIES)}, found "
            f"{', '.join(found) or 'none'}",
            hint="see docs/skill-authors.md, 'Languages'",
        )
    return found[0]


def build(folder: Path) -> Built:
    """Build the skill in ``folder``: compile, check imports, write module and lock."""
    skill = load_skill(folder)
    folder = folder.resolve()
    entry = language(folder)
    out = skill.module_path
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="airlock-build-") as tmp:
        staged = Path(tmp) / "module.wasm"
        toolchain = _compile(folder, entry, staged, Path(tmp))
        data = staged.read_bytes()
    if len(data) > MAX_MODULE_BYTES:
        raise SkillError(f"{skill.name}: module is {len(data)} bytes, over {MAX_MODULE_BYTES}")
    info = inspect_module(data)
    warnings = check_imports(skill, info)
    tmp_out = out.with_suffix(".wasm.tmp")
    tmp_out.write_bytes(data)
    tmp_out.replace(out)
    write_lock(
        out,
        BuildLock(
            name=skill.name,
            version=skill.manifest.version,
            module_sha256=hashlib.sha256(data).hexdigest(),
            manifest_sha256=skill.manifest_sha256,
            toolchain=toolchain,
        ),
    )
    return Built(skill=skill, info=info, toolchain=toolchain, warnings=tuple(warnings))


def check_imports(skill: Skill, info: ModuleInfo) -> list[str]:
    """Refuse a module its manifest does not account for; return softer warnings.

    Errors: not a WASI command (no ``_start``); imports from anything but WASI preview1 and
    ``airlock.call``/``airlock.reply``; host calls without a declared ``http`` capability.
    """
    where = f"{skill.name} ({skill.module_path.name})"
    if not info.is_command:
        raise SkillError(f"{where} exports no _start: it must be a WASI command module")
    foreign = info.foreign_imports()
    if foreign:
        raise SkillError(
            f"{where} imports {', '.join(foreign)}, which the sandbox does not provide",
            hint="a skill may import wasi_snapshot_preview1 functions and airlock.call/reply only",
        )
    caps = skill.manifest.capabilities
    if info.host_calls and not caps.http:
        raise SkillError(
            f"{where} imports airlock host calls but its manifest declares no http capability",
            hint="add [[capabilities.http]] with the hosts it needs, or drop the host calls",
        )
    warnings = []
    if caps.http and not info.host_calls:
        warnings.append(f"{where} declares http capabilities but makes no host calls")
    wasi = {name for mod, name, _ in info.imports if mod == "wasi_snapshot_preview1"}
    if caps.dirs and not any(name.startswith("path_") for name in wasi):
        warnings.append(f"{where} declares directories but uses no path functions")
    return warnings


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S
        )
    except FileNotFoundError:
        raise SkillError(f"compiler {cmd[0]} is not installed", hint="run `make install`") from None
    except subprocess.TimeoutExpired:
        raise SkillError(f"compiling in {cwd} took over {COMPILE_TIMEOUT_S:.0f} s") from None
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        raise SkillError(f"compiling {cwd.name} failed:\n{output[-4000:]}")


def _zig() -> list[str]:
    return [sys.executable, "-m", "ziglang"]


def _zig_env() -> dict[str, str]:
    cache = zig_cache()
    cache.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "ZIG_GLOBAL_CACHE_DIR": str(cache),
        "ZIG_LOCAL_CACHE_DIR": str(cache / "local"),
    }


def _compile(folder: Path, entry: str, out: Path, tmp: Path) -> str:
    if entry == "main.wat":
        try:
            out.write_bytes(wasmtime.wat2wasm((folder / entry).read_text(encoding="utf-8")))
        except wasmtime.WasmtimeError as exc:
            raise SkillError(f"{folder / entry}: {str(exc).strip()}") from None
        return f"wasmtime-py {metadata.version('wasmtime')} wat2wasm"
    if entry == "main.c":
        sources = sorted(str(p) for p in folder.glob("*.c"))
        sdk = SDK / "c"
        _run(
            [
                *_zig(),
                "cc",
                "--target=wasm32-wasi",
                "-Os",
                "-std=gnu11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-s",
                f"-I{sdk}",
                *sources,
                *sorted(str(p) for p in sdk.glob("*.c")),
                "-o",
                str(out),
            ],
            folder,
            _zig_env(),
        )
        return f"zig cc {_version(_zig())}"
    if entry == "main.zig":
        _run(
            [
                *_zig(),
                "build-exe",
                "-target",
                "wasm32-wasi",
                "-O",
                "ReleaseSmall",
                "-fstrip",
                "--dep",
                "airlock",
                f"-Mroot={folder / entry}",
                f"-Mairlock={SDK / 'zig' / 'airlock.zig'}",
                f"-femit-bin={out}",
            ],
            folder,
            _zig_env(),
        )
        return f"zig {_version(_zig())}"
    rustc = RUSTC if Path(RUSTC).exists() else (shutil.which("rustc") or RUSTC)
    common = [
        "--edition",
        "2021",
        "--target",
        "wasm32-wasi",
        "-C",
        "opt-level=s",
        "-C",
        "strip=symbols",
        "-C",
        "panic=abort",
        # Paths end up in panic messages; mapping them makes the module's bytes independent of
        # where the checkout lives, so the same source gives the same digest everywhere.
        f"--remap-path-prefix={folder}=skill",
        f"--remap-path-prefix={SDK}=sdk",
    ]
    _run(
        [
            rustc,
            *common,
            "--crate-type",
            "rlib",
            "--crate-name",
            "airlock",
            str(SDK / "rust" / "airlock.rs"),
            "-o",
            str(tmp / "libairlock.rlib"),
        ],
        folder,
    )
    _run(
        [
            rustc,
            *common,
            "--crate-type",
            "bin",
            "--extern",
            f"airlock={tmp / 'libairlock.rlib'}",
            str(folder / entry),
            "-o",
            str(out),
        ],
        folder,
    )
    return f"rustc {_version([rustc])}"


def _version(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(
            [*cmd, "version" if cmd[-1] == "ziglang" else "--version"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip().split("\n")[0].removeprefix("rustc ")
