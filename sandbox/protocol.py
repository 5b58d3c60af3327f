"""The typed protocol between the supervisor, the zygote and the sandboxed child.

Each message is one *frame*: a 4-byte big-endian length, then that many bytes of UTF-8 JSON, one
of the models below (discriminated by ``kind``). Byte fields travel as base64. Nothing else is
shared between the processes: no files, no sockets, no environment.

The reader is written for a hostile peer: the length is checked against a cap *before* anything
is buffered, a short read or a body that is not exactly one known message raises
:class:`ProtocolError`, and every read and write has a deadline so a peer that stops talking
cannot hang the supervisor.

Who sends what::

    supervisor -> child    Setup (trusted plan), Job (untrusted module and input), HostReply
    child -> supervisor    Ready or Failed, Compiled, HostCall, Done or Failed
    zygote -> supervisor   ZygoteReady, then Forked and Reaped for each run child
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sandbox.framing import HEADER, MAX_CONTROL_FRAME, ProtocolError, read_body, write_body
from sandbox.spec import Enforcement, Layer, Limits, Preopen, Status

__all__ = [
    "MAX_CONTROL_FRAME",
    "Compiled",
    "Done",
    "Failed",
    "Forked",
    "HostCall",
    "HostReply",
    "Job",
    "Message",
    "ProtocolError",
    "Ready",
    "Reaped",
    "Setup",
    "ZygoteReady",
    "read_frame",
    "write_frame",
]


class _Message(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64"
    )


class Setup(_Message):
    """The trusted part of a run: what the child locks itself down to before reading the job."""

    kind: Literal["setup"] = "setup"
    ro_paths: tuple[str, ...] = ()
    rw_paths: tuple[str, ...] = ()
    limits: Limits = Limits()
    require: tuple[Layer, ...] = ()


class Job(_Message):
    """The untrusted part of a run, read by the child only once it is hardened."""

    kind: Literal["job"] = "job"
    module: bytes
    module_name: str
    artifact: bytes | None = None  # a cached compiled module, integrity-checked by the supervisor
    input: bytes = b""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[Preopen, ...] = ()
    limits: Limits = Limits()
    host_calls: bool = False  # whether a handler is attached (else calls answer -4)


class HostReply(_Message):
    """The supervisor's answer to one host call."""

    kind: Literal["host_reply"] = "host_reply"
    reply: bytes


class Ready(_Message):
    """The child is hardened; ``enforcement`` is what the kernel actually applied."""

    kind: Literal["ready"] = "ready"
    enforcement: Enforcement


class Compiled(_Message):
    """A freshly compiled module, sent before any of its code runs, for the on-disk cache."""

    kind: Literal["compiled"] = "compiled"
    artifact: bytes


class HostCall(_Message):
    """One ``airlock.call`` request from the module (already size-checked by the child)."""

    kind: Literal["host_call"] = "host_call"
    request: bytes


class Done(_Message):
    """How the run ended, as the child saw it. The supervisor re-checks every cap."""

    kind: Literal["done"] = "done"
    status: Status
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    fuel_used: int | None = None
    peak_memory_bytes: int | None = None
    error: str | None = None


class Failed(_Message):
    """The child could not run the job; ``hardening`` when a required kernel layer is missing."""

    kind: Literal["failed"] = "failed"
    error: str
    hardening: bool = False


class ZygoteReady(_Message):
    """The zygote is hardened (base layers only) and is forking its first run child."""

    kind: Literal["zygote_ready"] = "zygote_ready"
    enforcement: Enforcement
    pid: int


class Forked(_Message):
    """The zygote forked the next run child; it waits on the run pipe for its Setup."""

    kind: Literal["forked"] = "forked"
    pid: int


class Reaped(_Message):
    """The zygote reaped that child; the channel is the zygote's again."""

    kind: Literal["reaped"] = "reaped"
    pid: int
    wait_status: int
    maxrss_kb: int


Message = Annotated[
    Setup
    | Job
    | HostReply
    | Ready
    | Compiled
    | HostCall
    | Done
    | Failed
    | ZygoteReady
    | Forked
    | Reaped,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def encode(message: _Message) -> bytes:
    """One frame (header and body) for ``message``."""
    body = message.model_dump_json().encode("utf-8")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> Message:
    """The message in one frame body; :class:`ProtocolError` if it is not exactly one."""
    try:
        return _ADAPTER.validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        raise ProtocolError(f"invalid frame from peer: {where}: {first['msg']}") from None


def read_frame(fd: int, *, max_bytes: int, deadline: float | None = None) -> Message:
    """Read one message from ``fd``; a frame longer than ``max_bytes`` is refused unread.

    ``deadline`` is a :func:`time.monotonic` instant (None waits forever: only for a trusted
    peer). Raises :class:`ProtocolError` on EOF, timeout, oversize or garbage.
    """
    return decode(read_body(fd, max_bytes=max_bytes, deadline=deadline))


def write_frame(fd: int, message: _Message, *, deadline: float | None = None) -> None:
    """Write one message to ``fd`` (blocking or not), within ``deadline`` if given."""
    write_body(fd, message.model_dump_json().encode("utf-8"), deadline=deadline)
