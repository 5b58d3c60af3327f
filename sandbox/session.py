"""Drives one run over a child's pipes: job out, host calls served, outcome in, within a deadline.

This is the supervisor's half of :mod:`sandbox.protocol` for one run, shared by the cold and
warm paths (they differ only in how the child is started and killed). Everything the child sends
is treated as hostile: frame sizes are capped before reading, the host-call budget and reply cap
are enforced here again, and a child that breaks the protocol or overstays is reported so the
caller can kill it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from host.errors import AirlockError
from sandbox.cache import MAX_ARTIFACT_BYTES, ModuleCache
from sandbox.harden.shapes import missing_layers
from sandbox.protocol import (
    MAX_CONTROL_FRAME,
    Compiled,
    Done,
    Failed,
    HostCall,
    HostReply,
    Job,
    ProtocolError,
    Ready,
    Setup,
    read_frame,
    write_frame,
)
from sandbox.runtime import MAX_HOST_REPLY, MAX_HOST_REQUEST
from sandbox.spec import Enforcement, HostCallHandler

# Time for a hardened child to say Ready: a cold Python start is ~0.1 s; this allows a loaded
# machine without letting a wedged child hold a run forever.
READY_TIMEOUT_S = 30.0
# After the run's own timeout, how long the child gets to report before it is killed. The child
# enforces the timeout itself (epoch deadline); the kill is the backstop for a child that can't.
KILL_GRACE_S = 2.0


@dataclass
class Channel:
    """The supervisor's ends of one child's pipes."""

    to_child: int
    from_child: int


@dataclass
class Outcome:
    """What a session ended with: ``done`` or ``failed``, else ``broken``.

    ``broken`` is set whenever the child must be killed (with ``failed`` too when the run was
    refused before its job was sent).
    """

    enforcement: Enforcement
    done: Done | None = None
    failed: Failed | None = None
    broken: str | None = None  # the protocol broke or the deadline passed: kill the child
    timed_out: bool = False
    ready: bool = False  # the child said Ready (so it may have read the job)


def _frame_cap(job: Job) -> int:
    """The largest frame a well-behaved child can send for ``job`` (base64 adds a third)."""
    outputs = 2 * job.limits.max_output_kb * 1024
    return (max(outputs, MAX_ARTIFACT_BYTES, MAX_HOST_REQUEST) * 4) // 3 + MAX_CONTROL_FRAME


def error_reply(code: str, message: str) -> bytes:
    """An ABI v1 error document, as the module receives it."""
    return json.dumps({"v": 1, "ok": False, "error": {"code": code, "message": message}}).encode()


def _serve(handler: HostCallHandler | None, request: bytes) -> bytes:
    if handler is None:  # the child answers -4 itself; a call arriving anyway gets an error
        return error_reply("no_handler", "this run has no host-call handler")
    try:
        reply = handler(request)
    except Exception as exc:  # a handler bug must never take the run (or the host) down
        name = type(exc).__name__
        text = exc.message if isinstance(exc, AirlockError) else "the host-call handler failed"
        return error_reply("host_error", f"{text} ({name})")
    if len(reply) > MAX_HOST_REPLY:
        return error_reply("reply_too_large", f"the reply exceeds {MAX_HOST_REPLY} bytes")
    return bytes(reply)


def drive(
    channel: Channel,
    setup: Setup,
    make_job: Callable[[], Job],
    *,
    handler: HostCallHandler | None,
    cache: ModuleCache | None,
    module_sha256: str,
) -> Outcome:
    """Run the job ``make_job`` builds over ``channel``; never raises for child behaviour.

    The trusted ``setup`` goes first, and the job is built and written while the child hardens
    itself (no round trip in between): the child reads the setup, hardens, says Ready, and only
    then reads the job out of the pipe.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S + setup.limits.timeout_s + KILL_GRACE_S
    enforcement = Enforcement()
    try:
        write_frame(channel.to_child, setup, deadline=deadline)
        job = make_job()
        write_frame(channel.to_child, job, deadline=deadline)
    except ProtocolError as exc:
        # A child that refused to harden exits without reading the job: say why if it told us.
        try:
            said = read_frame(channel.from_child, max_bytes=MAX_CONTROL_FRAME, deadline=deadline)
        except ProtocolError:
            return Outcome(enforcement, broken=f"the sandboxed child did not start: {exc.message}")
        if isinstance(said, Failed):
            return Outcome(enforcement, failed=said, broken=said.error)
        return Outcome(enforcement, broken=f"the sandboxed child did not start: {exc.message}")
    try:
        ready = read_frame(channel.from_child, max_bytes=MAX_CONTROL_FRAME, deadline=deadline)
    except ProtocolError as exc:
        return Outcome(enforcement, broken=f"the sandboxed child did not start: {exc.message}")
    if isinstance(ready, Failed):
        return Outcome(enforcement, failed=ready)
    if not isinstance(ready, Ready):
        return Outcome(enforcement, broken=f"the child sent {ready.kind} before ready")
    enforcement = ready.enforcement
    started = Outcome(enforcement, ready=True)
    missing = missing_layers(enforcement, frozenset(setup.require))
    if missing:
        # The child checks this itself before reading the job; this is the second look.
        error = f"the run requires {', '.join(missing)}, which this child does not enforce"
        started.failed, started.broken = Failed(error=error, hardening=True), error
        return started

    deadline = time.monotonic() + job.limits.timeout_s + KILL_GRACE_S
    cap = _frame_cap(job)
    calls = 0
    try:
        while True:
            message = read_frame(channel.from_child, max_bytes=cap, deadline=deadline)
            if isinstance(message, Done):
                started.done = message
                return started
            if isinstance(message, Failed):
                started.failed = message
                return started
            if isinstance(message, Compiled):
                if cache is not None:
                    cache.put(module_sha256, message.artifact)
            elif isinstance(message, HostCall):
                calls += 1
                if calls > job.limits.max_host_calls or len(message.request) > MAX_HOST_REQUEST:
                    started.broken = "the child exceeded the host-call caps"
                    return started
                reply = _serve(handler if job.host_calls else None, message.request)
                write_frame(channel.to_child, HostReply(reply=reply), deadline=deadline)
            else:
                started.broken = f"the child sent an unexpected {message.kind}"
                return started
    except ProtocolError as exc:
        started.broken, started.timed_out = exc.message, time.monotonic() >= deadline
        return started
