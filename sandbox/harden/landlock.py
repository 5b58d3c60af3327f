"""Landlock through its three system calls, for every ABI the kernel offers.

One small ctypes module instead of the ``landlock`` PyPI package: that package only knows
filesystem rules, while Airlock also needs network rules (ABI 4) and scopes (ABI 6), and mixing
two bindings would mean two views of the ABI. Here every access right is tagged with the ABI that
introduced it, and a ruleset only ever *handles* rights the running kernel knows (handling an
unknown right is EINVAL), so the same code runs on ABI 1 and on ABI 7 and reports what it got.

Landlock only ever restricts: each :func:`restrict_self` adds a layer on top of the previous ones
(at most 16), and it applies to the calling thread and its future children only, so it must run
before any other thread starts.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from collections.abc import Iterable
from pathlib import Path

from sandbox.harden._libc import syscall

# System calls added since Linux 5.1 (number 424 on) share one number on every architecture but
# Alpha and MIPS, which offset them; on those, Landlock is reported as unavailable.
_OFFSET_MACHINES = ("alpha", "mips")
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

# Filesystem rights, each with the ABI that introduced it.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FS_BY_ABI = {1: (1 << 13) - 1, 2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}

# Rights that only make sense on a directory; a rule on a plain file may not carry them.
FS_DIR_ONLY = (
    FS_READ_DIR
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_CHAR
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_BLOCK
    | FS_MAKE_SYM
    | FS_REFER
)

# What a read-only grant may do: read files and list directories. No execute: after hardening
# nothing is exec'd (mmap of shared libraries is not governed by FS_EXECUTE).
FS_READ = FS_READ_FILE | FS_READ_DIR
# What a read-write grant may do: read, write, create and remove regular files and directories,
# truncate, and rename within grants. Never execute, and never create device nodes, sockets,
# FIFOs or symlinks (a planted symlink could mislead whoever reads the directory after the run).
FS_READ_WRITE = (
    FS_READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_REFER
    | FS_TRUNCATE
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed))
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is missing or disabled."""
    if platform.machine().startswith(_OFFSET_MACHINES):
        return 0
    try:
        return syscall(SYS_LANDLOCK_CREATE_RULESET, 0, 0, CREATE_RULESET_VERSION)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def fs_rights(abi: int) -> int:
    """Every filesystem right known to ``abi`` (0 when Landlock is unavailable)."""
    return sum(bits for since, bits in _FS_BY_ABI.items() if abi >= since)


def net_rights(abi: int) -> int:
    """TCP bind and connect rights, if ``abi`` knows network rules (ABI >= 4)."""
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0


def scopes(abi: int) -> int:
    """Abstract-unix-socket and signal scopes, if ``abi`` knows scopes (ABI >= 6)."""
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


class Ruleset:
    """An open Landlock ruleset file descriptor; :meth:`restrict_self` enforces it once.

    ``handled_fs``/``handled_net``/``scoped`` are what the ruleset forbids unless a rule allows
    it; pass only rights the running ABI knows (see :func:`fs_rights` and friends).
    """

    def __init__(self, *, handled_fs: int = 0, handled_net: int = 0, scoped: int = 0) -> None:
        attr = _RulesetAttr(handled_fs, handled_net, scoped)
        # Older kernels accept the full struct as long as the fields they do not know are zero,
        # which they are when the caller only passes rights its ABI knows.
        self.handled_fs = handled_fs
        self._fd = syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)

    def allow_path(self, path: Path, access: int) -> None:
        """Allow ``access`` beneath ``path`` (rights that need a directory are dropped for files).

        The rule binds to the inode ``path`` resolves to now (symlinks followed), not to the
        name: renaming or replacing the path later does not move the grant.
        """
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            allowed = access & self.handled_fs
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                allowed &= ~FS_DIR_ONLY
            if not allowed:
                return
            attr = _PathBeneathAttr(allowed, fd)
            syscall(SYS_LANDLOCK_ADD_RULE, self._fd, RULE_PATH_BENEATH, ctypes.byref(attr), 0)
        finally:
            os.close(fd)

    def allow_paths(self, paths: Iterable[Path], access: int) -> None:
        """:meth:`allow_path` for each of ``paths``."""
        for path in paths:
            self.allow_path(path, access)

    def restrict_self(self) -> None:
        """Enforce the ruleset on this thread and its future children, then close it.

        Needs no_new_privs (or CAP_SYS_ADMIN), which the caller sets first.
        """
        try:
            syscall(SYS_LANDLOCK_RESTRICT_SELF, self._fd, 0)
        finally:
            self.close()

    def close(self) -> None:
        """Close the ruleset descriptor without enforcing it (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
