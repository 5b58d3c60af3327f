"""Frames still travel when the channel's descriptors are numbered 1024 or above.

select() cannot watch such descriptors (it raises ValueError); a busy host reaches them, so the
protocol waits with poll(). The test pushes the process past 1100 open descriptors first.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterator

import pytest

from sandbox.protocol import MAX_CONTROL_FRAME, Done, ProtocolError, read_frame, write_frame
from sandbox.spec import Status

FILLER = 1100  # enough to push the next descriptors past select()'s FD_SETSIZE of 1024


@pytest.fixture
def high_pipe() -> Iterator[tuple[int, int]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FILLER + 64
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} descriptors needed")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    filler: list[int] = []
    pipe: tuple[int, int] | None = None
    try:
        filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(FILLER)]
        pipe = os.pipe()
        yield pipe
    finally:
        for fd in [*filler, *(pipe or ())]:
            with contextlib.suppress(OSError):
                os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_frame_exchange_on_descriptors_above_1024(high_pipe: tuple[int, int]) -> None:
    read_end, write_end = high_pipe
    assert min(read_end, write_end) >= 1024
    message = Done(status=Status.OK, exit_code=0, stdout=b"out")
    deadline = time.monotonic() + 5
    write_frame(write_end, message, deadline=deadline)
    assert read_frame(read_end, max_bytes=MAX_CONTROL_FRAME, deadline=deadline) == message


def test_deadline_still_holds_above_1024(high_pipe: tuple[int, int]) -> None:
    with pytest.raises(ProtocolError, match=r"^peer did not answer in time$"):
        read_frame(high_pipe[0], max_bytes=MAX_CONTROL_FRAME, deadline=time.monotonic() + 0.05)
