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


def _sandbox_role(pid: int) -> str | None:
    """ "zygote" or "child" for the sandbox's own processes, None for anything else."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return None
    if b"sandbox.zygote" in argv:
        return "zygote"  # a zygote, or a run child it forked (same command line)
    return "child" if b"sandbox.child" in argv else None


def stray_processes() -> set[int]:
    """Sandbox processes under this one that should not exist now: empty when all is well.

    A warm sandbox (this test's, or a session-wide one of another suite) legitimately keeps its
    zygotes and, under each, one child forked ahead of the next run. A warm run's own child exits
    right after reporting (the supervisor makes sure of it before the next run), so this waits
    up to SETTLE_S for it; anything else (a cold child still alive, a second child under a
    zygote, a grandchild) is a process that outlived its run.
    """
    deadline = time.monotonic() + SETTLE_S
    while True:
        parents = _parents()  # one snapshot: a spare may be forked while we look
        roles = {pid: _sandbox_role(pid) for pid in descendants(parents=parents)}
        ours = {pid for pid, role in roles.items() if role is not None}
        zygotes = {pid for pid in ours if roles[pid] == "zygote" and parents.get(pid) not in ours}
        stray = ours - zygotes
        for zygote in zygotes:
            children = {pid for pid in stray if parents.get(pid) == zygote}
            if len(children) == 1:
                stray -= children
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
