"""Process privileges: parent-death signal, no_new_privs, securebits and capabilities.

Each function does one thing and verifies it by reading the state back, so the enforcement report
says what the kernel holds rather than what was asked.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
from pathlib import Path

from sandbox.harden._libc import call, prctl

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_CLEAR_ALL = 4

_CAP_VERSION_3 = 0x20080522

# uid 0 gets no capabilities back on exec (NOROOT), setuid never re-grants or keeps any
# (NO_SETUID_FIXUP, KEEP_CAPS locked off), ambient capabilities cannot be raised; each bit locked.
SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
SECUREBITS = (
    SECBIT_NOROOT
    | SECBIT_NOROOT_LOCKED
    | SECBIT_NO_SETUID_FIXUP
    | SECBIT_NO_SETUID_FIXUP_LOCKED
    | SECBIT_KEEP_CAPS_LOCKED
    | SECBIT_NO_CAP_AMBIENT_RAISE
    | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def set_parent_death_signal(expected_parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent thread exits.

    ``fork`` clears the setting, so a forked run child must call this again. If the parent is
    already gone (the child was reparented before the call), the signal would never come: with
    ``expected_parent`` given, a mismatch kills the process at once instead.
    """
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), signal.SIGKILL)


def parent_death_signal() -> int:
    """The signal currently armed for parent death (0 when none)."""
    value = ctypes.c_int(0)
    prctl(PR_GET_PDEATHSIG, ctypes.addressof(value))
    return value.value


def set_not_dumpable() -> bool:
    """No core dump, even to a ``core_pattern`` pipe (which ignores RLIMIT_CORE), and no ptrace
    from other processes of the same uid without CAP_SYS_PTRACE; returns it held."""
    prctl(PR_SET_DUMPABLE, 0)
    return prctl(PR_GET_DUMPABLE) == 0


def set_no_new_privs() -> bool:
    """Forbid gaining privileges through exec (setuid bits, file capabilities); returns it held."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    return no_new_privs()


def no_new_privs() -> bool:
    """Whether no_new_privs is set on this process."""
    return prctl(PR_GET_NO_NEW_PRIVS) == 1


def lock_securebits() -> bool:
    """Set and lock :data:`SECUREBITS`; returns False without CAP_SETPCAP (nothing to lock then).

    Must run before :func:`drop_capabilities`, which removes CAP_SETPCAP.
    """
    try:
        prctl(PR_SET_SECUREBITS, prctl(PR_GET_SECUREBITS) | SECUREBITS)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            return False
        raise
    return prctl(PR_GET_SECUREBITS) & SECUREBITS == SECUREBITS


def last_capability() -> int:
    """The highest capability number this kernel knows."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 40  # CAP_CHECKPOINT_RESTORE, the last one as of Linux 6.x


def drop_capabilities() -> list[str]:
    """Empty the bounding, ambient, inheritable, permitted and effective sets.

    Returns notes for what could not be dropped (an unprivileged process may not shrink its
    bounding set; with no_new_privs set, nothing in it can ever be gained, so that is harmless).
    """
    notes: list[str] = []
    for cap in range(last_capability() + 1):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # past this kernel's last capability
                break
            if exc.errno != errno.EPERM:
                raise
            notes.append(
                "capabilities: the bounding set was not cleared (no CAP_SETPCAP); "
                "no_new_privs keeps it from being used"
            )
            break
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # kernels before 4.3 have no ambient set
            raise
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    call("capset", ctypes.byref(header), ctypes.byref(data))
    return notes


def capability_sets() -> dict[str, int]:
    """This process's capability sets as bit masks: effective, permitted, inheritable, bounding,
    ambient (what ``/proc/self/status`` would show)."""
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    call("capget", ctypes.byref(header), ctypes.byref(data))
    bounding = ambient = 0
    for cap in range(last_capability() + 1):
        try:
            if prctl(PR_CAPBSET_READ, cap):
                bounding |= 1 << cap
            if prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap):
                ambient |= 1 << cap
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                break
            raise
    return {
        "effective": data[0].effective | data[1].effective << 32,
        "permitted": data[0].permitted | data[1].permitted << 32,
        "inheritable": data[0].inheritable | data[1].inheritable << 32,
        "bounding": bounding,
        "ambient": ambient,
    }


def capabilities_dropped() -> bool:
    """True when no capability is effective, permitted, inheritable or ambient."""
    sets = capability_sets()
    return not (sets["effective"] or sets["permitted"] or sets["inheritable"] or sets["ambient"])
