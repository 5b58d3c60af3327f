"""Frames on the sandbox's pipes: a 4-byte big-endian length, then that many bytes of body.

Standard library only: the cold child frames its messages with this module and never imports
pydantic (:mod:`sandbox.childwire`); the supervisor parses the same frames into the strict models
of :mod:`sandbox.protocol`. Every read and write has an optional deadline, and a frame longer
than the reader's cap is refused before any of it is buffered.
"""

from __future__ import annotations

import math
import os
import select
import struct
import time

from host.errors import SandboxError

HEADER = struct.Struct(">I")
# Control frames (setup, fork, ready, reaped) are a few KiB; a larger one is garbage, and
# refusing it early keeps a confused peer from making us allocate its claimed length.
MAX_CONTROL_FRAME = 1024 * 1024


class ProtocolError(SandboxError):
    """A peer sent something that is not a valid frame, or stopped talking in time."""


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProtocolError("peer did not answer in time")
    return left


def _ready(fd: int, events: int, deadline: float | None) -> bool:
    """Whether ``fd`` is ready for ``events`` before ``deadline`` (hang-up and error count too).

    ``poll``, not ``select``: select() cannot watch a descriptor numbered 1024 or above, and a
    busy host (many XMPP streams, audit files, run children) reaches such numbers.
    """
    left = _remaining(deadline)
    poller = select.poll()
    poller.register(fd, events)
    return bool(poller.poll(None if left is None else math.ceil(left * 1000)))


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < n:
        if not _ready(fd, select.POLLIN, deadline):
            raise ProtocolError("peer did not answer in time")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise ProtocolError(f"peer closed the channel mid-frame ({got} of {n} bytes)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_body(fd: int, *, max_bytes: int, deadline: float | None = None) -> bytes:
    """The body of the next frame on ``fd``; one longer than ``max_bytes`` is refused unread.

    ``deadline`` is a :func:`time.monotonic` instant (None waits forever: only for a trusted
    peer). Raises :class:`ProtocolError` on EOF, timeout or oversize.
    """
    header = _read_exact(fd, HEADER.size, deadline)
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise ProtocolError(f"peer sent a {length}-byte frame; the limit here is {max_bytes}")
    return _read_exact(fd, length, deadline)


def write_body(fd: int, body: bytes, *, deadline: float | None = None) -> None:
    """Write ``body`` as one frame to ``fd`` (blocking or not), within ``deadline`` if given."""
    view = memoryview(HEADER.pack(len(body)) + body)
    while view:
        if not _ready(fd, select.POLLOUT, deadline):
            raise ProtocolError("peer stopped reading in time")
        try:
            n = os.write(fd, view[: 1 << 20])
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise ProtocolError("peer closed the channel") from None
        view = view[n:]
