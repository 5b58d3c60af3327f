"""The files the Python + wasmtime runtime itself still reads once the filesystem is locked."""

from __future__ import annotations

import functools
import os
import sysconfig
from pathlib import Path

import sandbox


def _code_roots() -> list[Path]:
    # Airlock's own packages: with an editable install they live outside site-packages, and the
    # child imports parts of them lazily. Source code only; the checkout around them (config,
    # state, keys) stays closed.
    pkg = Path(sandbox.__file__).resolve().parent
    return [pkg, pkg.parent / "host"]


def runtime_read_paths() -> tuple[Path, ...]:
    """What the hardened child must still be able to read, each for a stated reason.

    * the interpreter's standard library (``stdlib``, ``platstdlib``, incl. ``lib-dynload``) and
      the environment's ``site-packages`` (``purelib``, ``platlib``): modules imported lazily
      after hardening, and wasmtime's shared library;
    * ``sandbox/`` and ``host/`` of this checkout: Airlock's own code, imported lazily;
    * ``/usr/lib``, ``/lib``, ``/lib64``, ``/usr/lib64`` and ``/etc/ld.so.cache``: shared
      libraries that glibc loads on demand (libgcc_s for thread cancellation, NSS, iconv);
    * ``/dev/null`` and ``/dev/urandom``: opened by libraries that need a sink or entropy;
    * ``/proc/self``: the process's own maps and status (Rust's stack-guard setup reads
      ``/proc/self/maps``). The rule binds to this process's /proc directory, so it must be
      built in the process it confines and never grants another process's entries.

    Read-only, never executable; paths that do not exist here are left out. No path is nested in
    another (a nested rule would add nothing).
    """
    # /proc/<pid>, not the /proc/self symlink (a rule binds to what its path resolves to when it
    # is added). The shared paths are library, code and device paths, never / or /proc, so none
    # holds it or lies beneath it.
    own = Path(f"/proc/{os.getpid()}")
    return (*_shared_paths(), own) if own.is_dir() else _shared_paths()


def shared_read_paths() -> tuple[Path, ...]:
    """:func:`runtime_read_paths` without the ``/proc/<pid>`` rule, which each process adds for
    itself (the native run child does, see sandbox/native/confine.c)."""
    return _shared_paths()


@functools.cache
def _shared_paths() -> tuple[Path, ...]:
    # The same for every process of this interpreter, so resolved once per process tree: the
    # zygote resolves them before forking and its run children inherit the answer (resolving
    # costs ~3 ms, most of a warm run's hardening). Only names are cached; each Landlock rule
    # still opens its path when it is added, so it binds to the inode there at that time.
    paths = sysconfig.get_paths()
    candidates = [Path(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    candidates += _code_roots()
    candidates += [Path(p) for p in ("/usr/lib", "/lib", "/lib64", "/usr/lib64")]
    candidates += [Path("/etc/ld.so.cache"), Path("/dev/null"), Path("/dev/urandom")]
    return _outermost(_resolved(candidates))


def _resolved(candidates: list[Path]) -> list[Path]:
    """``candidates`` with symlinks resolved; those that do not exist are left out."""
    resolved: list[Path] = []
    for candidate in candidates:
        try:
            resolved.append(candidate.resolve(strict=True))
        except OSError:
            continue
    return resolved


def _outermost(paths: list[Path]) -> tuple[Path, ...]:
    """Drop duplicates and paths beneath another path of the list, keeping the first order."""
    out: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(parent) for parent in out):
            out.append(path)
    return tuple(out)
