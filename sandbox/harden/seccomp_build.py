"""Compiling the seccomp filters with libseccomp (supervisor side; sandbox processes only load).

:func:`filters` builds both programs of :mod:`sandbox.harden.seccomp` once per process; the
supervisor hands the same bytes to every cold child and zygote (:func:`handoff_fd`), so every
sandbox process loads an identical, deterministic program. See that module for what each
filter refuses and why.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os

import pyseccomp as sc

from host.errors import HardeningError
from sandbox.harden.seccomp import (
    BASE_DENIED,
    CLONE_NAMESPACE_FLAGS,
    CLONE_THREAD,
    ONLY_WHICH_PROCESS,
    OTHER_PROCESS_CALLS,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    RUN_DENIED,
    TTY_IOCTLS_DENIED,
    FilterSet,
    Program,
)

_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


@functools.cache
def filters() -> FilterSet:
    """Both filters, compiled by libseccomp for this architecture (cached: ~1 ms once)."""
    number = sc.resolve_syscall(sc.Arch.NATIVE, "seccomp")
    if not isinstance(number, int) or number < 0:
        raise HardeningError("seccomp(2) has no number on this architecture")
    base, base_denied = _base_filter()
    run, run_denied = _run_filter()
    return FilterSet(
        base=Program(_export(base), tuple(base_denied), number),
        run=Program(_export(run), tuple(run_denied), number),
    )


def handoff_fd() -> int:
    """A sealed, read-only-from-now-on memfd holding :func:`filters` (the caller closes it).

    Passed to a sandbox process, which reads it with :meth:`FilterSet.read_from` before it
    hardens itself. The seals make the bytes immutable for every holder of the descriptor.
    """
    fd = os.memfd_create("airlock-seccomp", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        data = filters().to_bytes()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _export(flt: sc.SyscallFilter) -> bytes:
    # libseccomp writes the program to a descriptor; a memfd keeps it off the filesystem.
    fd = os.memfd_create("airlock-filter", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        return out.read()


def _new_filter() -> sc.SyscallFilter:
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    flt.set_attr(sc.Attr.CTL_TSYNC, 1)
    return flt


def _deny(flt: sc.SyscallFilter, names: tuple[str, ...], err: int) -> list[str]:
    added = []
    for name in names:
        try:
            flt.add_rule(sc.ERRNO(err), name)
        except (OSError, ValueError):
            continue  # not a system call on this architecture (or this libseccomp)
        added.append(name)
    return added


def _base_filter() -> tuple[sc.SyscallFilter, list[str]]:
    flt = _new_filter()
    denied = _deny(flt, BASE_DENIED, errno.EPERM)
    denied += [f"{name} (ENOSYS)" for name in _deny(flt, ("clone3",), errno.ENOSYS)]
    for flag in CLONE_NAMESPACE_FLAGS:
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    denied.append("clone with a namespace flag")
    for name, pid_arg in OTHER_PROCESS_CALLS:
        flt.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(pid_arg, sc.NE, 0))
        denied.append(f"{name} on another process")
    for name, which_process in ONLY_WHICH_PROCESS:
        flt.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(0, sc.NE, which_process))
    for name, request in TTY_IOCTLS_DENIED:
        flt.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
        denied.append(f"ioctl {name}")
    return flt, denied


def _run_filter() -> tuple[sc.SyscallFilter, list[str]]:
    flt = _new_filter()
    denied = _deny(flt, RUN_DENIED, errno.EPERM)
    flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    denied.append("clone without CLONE_THREAD")
    for option, name in (
        (PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"),
        (PR_SET_DUMPABLE, "PR_SET_DUMPABLE"),
    ):
        # prctl's option is an int: the kernel ignores the upper 32 bits, so must the filter
        flt.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.MASKED_EQ, 0xFFFFFFFF, option))
        denied.append(f"prctl {name}")
    return flt, denied
