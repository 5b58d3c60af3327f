"""Thin, checked access to the libc entry points the hardening layers need.

``prctl``, raw ``syscall`` and a few other int-returning functions are called through
:mod:`ctypes` with ``use_errno`` so that a failure becomes an :class:`OSError` carrying the
kernel's errno (callers classify by errno, never by text).
Nothing here decides policy; it only turns C return conventions into Python exceptions.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = (
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
)


def _raise(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """``prctl(2)``; returns its non-negative result or raises OSError with the errno."""
    res = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if res < 0:
        _raise(f"prctl({option})")
    return int(res)


def call(name: str, *args: object) -> int:
    """A libc function returning int (0 or a count, -1 with errno), e.g. ``capget``."""
    res = getattr(_libc, name)(*args)
    if res < 0:
        _raise(name)
    return int(res)


def syscall(number: int, *args: object) -> int:
    """A raw system call by number (for calls glibc does not wrap); raises OSError on -1.

    ``args`` are ints (passed as C longs) or ctypes objects such as ``ctypes.byref(struct)``.
    """
    c_args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    res = _libc.syscall(ctypes.c_long(number), *c_args)
    if res < 0:
        _raise(f"syscall({number})")
    return int(res)
