"""Framing and message validation of the supervisor/child protocol, fed garbage on purpose."""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Iterator

import pytest

from sandbox.protocol import (
    MAX_CONTROL_FRAME,
    Done,
    HostCall,
    Job,
    ProtocolError,
    Setup,
    encode,
    read_frame,
    write_frame,
)
from sandbox.spec import Limits, Status


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_messages_round_trip_with_bytes(pipe: tuple[int, int]) -> None:
    job = Job(
        module=b"\x00asm\x01\x00\x00\x00", module_name="m.wasm", input=b"\xff\x00", args=("a",)
    )
    write_frame(pipe[1], job)
    assert read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME) == job


def test_bytes_travel_as_base64() -> None:
    frame = encode(HostCall(request=b"\xff\xfe"))
    assert b'"request":"__4="' in frame  # URL-safe base64


def test_oversized_frame_is_refused_before_reading_it(pipe: tuple[int, int]) -> None:
    os.write(pipe[1], struct.pack(">I", 2**31) + b"x" * 16)
    with pytest.raises(ProtocolError, match=r"2147483648-byte frame; the limit here is 1024"):
        read_frame(pipe[0], max_bytes=1024)


def test_garbage_body_is_a_protocol_error(pipe: tuple[int, int]) -> None:
    body = b"not json at all"
    os.write(pipe[1], struct.pack(">I", len(body)) + body)
    with pytest.raises(ProtocolError, match="invalid frame from peer"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME)


def test_unknown_kind_is_refused(pipe: tuple[int, int]) -> None:
    body = b'{"kind":"exec","command":"/bin/sh"}'
    os.write(pipe[1], struct.pack(">I", len(body)) + body)
    with pytest.raises(ProtocolError, match="invalid frame from peer"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME)


def test_extra_field_is_refused(pipe: tuple[int, int]) -> None:
    body = b'{"kind":"done","status":"ok","exit_code":0,"unsafe_extra":1}'
    os.write(pipe[1], struct.pack(">I", len(body)) + body)
    with pytest.raises(ProtocolError, match="unsafe_extra: Extra inputs are not permitted"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME)


def test_invalid_status_is_refused(pipe: tuple[int, int]) -> None:
    body = b'{"kind":"done","status":"pwned"}'
    os.write(pipe[1], struct.pack(">I", len(body)) + body)
    with pytest.raises(ProtocolError, match="status"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME)


def test_truncated_frame_then_eof(pipe: tuple[int, int]) -> None:
    frame = encode(Done(status=Status.OK, exit_code=0))
    os.write(pipe[1], frame[:-3])
    os.close(pipe[1])
    with pytest.raises(ProtocolError, match="closed the channel mid-frame"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME)


def test_silent_peer_times_out(pipe: tuple[int, int]) -> None:
    with pytest.raises(ProtocolError, match="did not answer in time"):
        read_frame(pipe[0], max_bytes=MAX_CONTROL_FRAME, deadline=time.monotonic() + 0.05)


def test_peer_that_stops_reading_times_out_the_writer(pipe: tuple[int, int]) -> None:
    os.set_blocking(pipe[1], False)
    big = Job(module=b"x" * (4 * 1024 * 1024), module_name="big.wasm")
    with pytest.raises(ProtocolError, match="stopped reading in time"):
        write_frame(pipe[1], big, deadline=time.monotonic() + 0.1)


def test_setup_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="fuel"):
        Setup(limits=Limits(fuel=0))
