"""Closing every inherited file descriptor the child was not explicitly given."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# The kernel never hands out a descriptor at or above fs.nr_open (default 2**20).
_DEFAULT_NR_OPEN = 1 << 20


def _fd_ceiling() -> int:
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return _DEFAULT_NR_OPEN


def close_inherited(keep: Iterable[int]) -> list[int]:
    """Close every descriptor above 2 except ``keep``; returns the sorted list kept.

    A leaked descriptor is ambient authority that Landlock cannot take back (an already-open file
    or socket stays usable), so this runs first. os.closerange uses close_range(2), one system
    call per gap between kept descriptors.
    """
    kept = sorted({fd for fd in keep if fd > 2})
    low = 3
    for fd in kept:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _fd_ceiling())
    return kept


def open_descriptors() -> list[int]:
    """The descriptors this process holds right now (read from /proc/self/fd)."""
    listed = [int(name) for name in os.listdir("/proc/self/fd")]
    # The listing includes the directory descriptor listdir itself used and has since closed.
    return sorted(fd for fd in listed if _is_open(fd))


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
