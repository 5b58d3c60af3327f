"""What a Wasm module is and could ask for, read from its imports and exports alone.

Used by ``airlock skill inspect`` (for people deciding whether to grant a skill) and by
``airlock skill build`` (to refuse a module whose imports its manifest does not account for).
The module is compiled, never instantiated: nothing in it runs here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import wasmtime

from host.errors import SkillError

WASI = "wasi_snapshot_preview1"
AIRLOCK = "airlock"
AIRLOCK_FUNCS = frozenset({"call", "reply"})
PAGE = 64 * 1024

# What each group of WASI imports lets a module ask for. The grant still decides what it gets:
# preopens are the only directories, there are no sockets, env is only what policy sets.
WASI_POWERS: dict[str, str] = {
    "path_open": "open files in granted directories",
    "path_create_directory": "create directories in granted directories (rw only)",
    "path_unlink_file": "delete files in granted directories (rw only)",
    "path_remove_directory": "delete directories in granted directories (rw only)",
    "path_rename": "move files in granted directories (rw only)",
    "path_symlink": "create symlinks in granted directories (rw only)",
    "fd_readdir": "list granted directories",
    "clock_time_get": "read the clock",
    "random_get": "read random bytes",
    "environ_get": "read the environment variables policy sets",
    "args_get": "read its command-line arguments",
    "sock_accept": "accept connections on inherited sockets (the sandbox passes none)",
}


@dataclass(frozen=True)
class ModuleInfo:
    """A module's interface, as ``airlock skill inspect`` prints it."""

    sha256: str
    size: int
    imports: tuple[tuple[str, str, str], ...]  # (module, name, kind)
    exports: tuple[tuple[str, str], ...]  # (name, kind)
    memory_min_pages: int | None
    memory_max_pages: int | None

    @property
    def is_command(self) -> bool:
        return any(name == "_start" and kind == "func" for name, kind in self.exports)

    @property
    def host_calls(self) -> bool:
        return any(mod == AIRLOCK for mod, _, _ in self.imports)

    def foreign_imports(self) -> list[str]:
        """Imports the sandbox does not provide (the module would fail to link)."""
        bad = []
        for mod, name, kind in self.imports:
            if mod == WASI and kind == "func":
                continue
            if mod == AIRLOCK and name in AIRLOCK_FUNCS and kind == "func":
                continue
            bad.append(f"{mod}.{name} ({kind})")
        return bad

    def powers(self) -> list[str]:
        """What the module could ask for, in words, from its imports."""
        names = {name for mod, name, _ in self.imports if mod == WASI}
        found = [text for fn, text in WASI_POWERS.items() if fn in names]
        if self.host_calls:
            found.append("ask the host broker for outbound HTTP (only hosts its grant allows)")
        return found


def _kind(t: object) -> str:
    if isinstance(t, wasmtime.FuncType):
        return "func"
    if isinstance(t, wasmtime.MemoryType):
        return "memory"
    if isinstance(t, wasmtime.TableType):
        return "table"
    if isinstance(t, wasmtime.GlobalType):
        return "global"
    return type(t).__name__


def inspect_module(data: bytes) -> ModuleInfo:
    """Compile ``data`` (no instantiation) and describe it; SkillError if it is not valid Wasm."""
    try:
        module = wasmtime.Module(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid module"
        raise SkillError(f"not a valid Wasm module: {first}") from None
    mem_min = mem_max = None
    for export in module.exports:
        if isinstance(export.type, wasmtime.MemoryType):
            mem_min, mem_max = export.type.limits.min, export.type.limits.max
    return ModuleInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        imports=tuple((i.module, i.name or "", _kind(i.type)) for i in module.imports),
        exports=tuple((e.name, _kind(e.type)) for e in module.exports),
        memory_min_pages=mem_min,
        memory_max_pages=mem_max,
    )
