"""Fuzzing the supervisor/child protocol: a child that escaped Wasm controls every byte it sends.

Whatever arrives on the pipe, the supervisor's :func:`read_frame` returns exactly one valid
message or raises :class:`ProtocolError` (after which the child is killed); never another
exception, never a hang past its deadline, never a read of more than the frame cap.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.protocol import Message, ProtocolError, decode, encode, read_frame

# Cheap properties (no I/O but a pipe): twice the profile's examples.
FUZZ = settings(max_examples=2 * settings.default.max_examples)
CAP = 4096  # frame cap for these tests; the real caps are larger, the logic is the same
KINDS = [
    "setup",
    "job",
    "host_reply",
    "ready",
    "compiled",
    "host_call",
    "done",
    "failed",
    "fork",
    "zygote_ready",
    "forked",
    "reaped",
]
FIELDS = [
    "kind",
    "status",
    "exit_code",
    "stdout",
    "stderr",
    "error",
    "request",
    "reply",
    "pid",
    "wait_status",
    "maxrss_kb",
    "enforcement",
    "limits",
    "fuel_used",
    "artifact",
    "hardening",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from([*KINDS, "ok", "trap", "AAAA", "__4=", "!!"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)
    ),
    max_leaves=12,
)


@contextlib.contextmanager
def pipe() -> Iterator[tuple[int, int]]:
    """A fresh pipe per example (a fixture would be shared by all of them)."""
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    finally:
        for fd in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(fd)


def decoded(body: bytes) -> Message | ProtocolError:
    try:
        message = decode(body)
    except ProtocolError as exc:
        return exc
    # A message that was accepted survives its own encoding unchanged (nothing half-parsed).
    assert decode(encode(message)[4:]) == message
    return message


@FUZZ
@given(body=st.binary(max_size=512))
def test_fuzz_protocol_arbitrary_bodies(body: bytes) -> None:
    decoded(body)


@settings()  # nested documents are slow to generate: the profile's examples only
@given(
    doc=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    kind=st.sampled_from(KINDS),
)
def test_fuzz_protocol_messages_of_every_kind(doc: dict[str, Any], kind: str) -> None:
    result = decoded(json.dumps({**doc, "kind": kind}).encode())
    if not isinstance(result, ProtocolError):
        assert result.kind == kind


@FUZZ
@given(length=st.integers(min_value=0, max_value=2**32 - 1), body=st.binary(max_size=256))
def test_fuzz_protocol_frames_on_a_pipe(length: int, body: bytes) -> None:
    # The peer sends a header claiming ``length`` bytes, then ``body``, then hangs up.
    with pipe() as (read_end, write_end):
        os.write(write_end, struct.pack(">I", length) + body)
        os.close(write_end)
        check_frame(read_end, length, body)


def check_frame(read_end: int, length: int, body: bytes) -> None:
    """What reading that frame must give: refusal from the header, EOF, or the body's message."""

    def read() -> Message:
        return read_frame(read_end, max_bytes=CAP, deadline=time.monotonic() + 5)

    if length > CAP:  # refused from the header alone, before reading or allocating
        with pytest.raises(ProtocolError, match=f"a {length}-byte frame"):
            read()
    elif length > len(body):
        with pytest.raises(ProtocolError, match="closed the channel mid-frame"):
            read()
    elif isinstance(expected := decoded(body[:length]), ProtocolError):
        with pytest.raises(ProtocolError, match="invalid frame from peer"):
            read()
    else:
        assert read() == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="deep"),
        pytest.param(b'{"kind": "done", "status": "ok", "exit_code": ' + b"9" * 5000 + b"}"),
        pytest.param(b'{"kind": "done", "status": "ok", "exit_code": 1e400}', id="infinite"),
        pytest.param(b'{"kind": "done", "status": "ok", "error": "\\ud800"}', id="surrogate"),
        pytest.param(b'{"kind": "host_call", "request": "!!"}', id="bad-base64"),
        pytest.param(b'{"kind": "done", "status": "ok", "kind": "forked"}', id="duplicate-key"),
    ],
)
def test_hostile_frame_is_a_protocol_error(body: bytes) -> None:
    assert isinstance(decoded(body), ProtocolError)
