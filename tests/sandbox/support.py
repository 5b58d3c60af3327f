"""Helpers shared by the sandbox tests and the sandbox attack tests (tests/security).

Modules are kept as WAT under ``tests/sandbox/modules/`` and compiled with wasmtime's wat2wasm
into a test's temporary directory. :func:`descendants` lets a test prove that no process was
left behind after a run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from sandbox.cache import ModuleCache
from sandbox.supervisor import Sandbox

MODULES = Path(__file__).resolve().parent / "modules"
# How long a finished run child may take to be gone (it exits right after its report).
SETTLE_S = 5.0


def wasm_bytes(name: str) -> bytes:
    """The binary of ``modules/<name>.wat``."""
    return bytes(wasmtime.wat2wasm((MODULES / f"{name}.wat").read_text(encoding="utf-8")))


def write_module(directory: Path, name: str) -> Path:
    """Compile ``modules/<name>.wat`` to ``directory/<name>.wasm`` and return that path."""
    path = directory / f"{name}.wasm"
    path.write_bytes(wasm_bytes(name))
    return path


def _parents() -> dict[int, int]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue  # exited while we looked
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and fields[0] != "Z":
            table[int(entry)] = int(fields[1])
    return table


def descendants(pid: int | None = None, parents: dict[int, int] | None = None) -> set[int]:
    """Live (non-zombie) descendants of ``pid`` (default: this process)."""
    root = os.getpid() if pid is None else pid
    parents = _parents() if parents is None else parents
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _is_sandbox(pid: int) -> bool:
    """Whether ``pid`` is one of the sandbox's processes (other fixtures may start their own)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"sandbox.child" in argv or b"sandbox.zygote" in argv


def stray_processes(*sandboxes: Sandbox) -> set[int]:
    """Sandbox processes under this one that should not exist now: empty when all is well.

    A warm sandbox legitimately keeps its zygotes and, under each, one spare child forked ahead
    of the next run. A warm run's own child exits right after reporting (the supervisor makes
    sure of it before the next run), so this waits up to SETTLE_S for it; any other descendant
    (a second child of a zygote, a grandchild) is a process that outlived its run.
    """
    deadline = time.monotonic() + SETTLE_S
    while True:
        zygotes = set().union(*(sandbox.pids() for sandbox in sandboxes))
        parents = _parents()  # one snapshot: a spare may be forked while we look
        stray = {pid for pid in descendants(parents=parents) if _is_sandbox(pid)} - zygotes
        for zygote in zygotes:
            spares = {pid for pid in stray if parents.get(pid) == zygote}
            if len(spares) == 1:
                stray -= spares
        if not stray or time.monotonic() > deadline:
            return stray
        time.sleep(0.01)


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    """A directory to compile modules into (use with :func:`write_module`)."""
    return tmp_path


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A warm sandbox with a private module cache, shared by one test module."""
    cache = ModuleCache(tmp_path_factory.mktemp("cache"))
    with Sandbox(zygotes=1, cache=cache) as sandbox:
        yield sandbox
