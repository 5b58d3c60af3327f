"""Starting, killing and reaping the sandbox's own processes (cold children and zygotes).

Children get a fresh, minimal environment (nothing of the host's, so no secret can leak through
it), ``/`` as working directory, ``/dev/null`` as stdin and stdout, and only the pipes named on
their command line. Each runs in its own session, so a terminal's signals do not reach it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import sandbox
from sandbox.protocol import (
    MAX_CONTROL_FRAME,
    Fork,
    Forked,
    ProtocolError,
    Reaped,
    Setup,
    ZygoteReady,
    read_frame,
    write_frame,
)
from sandbox.spec import Enforcement

# How long a zygote may take to import, harden and say ready (a cold start is ~0.2 s).
ZYGOTE_START_TIMEOUT_S = 30.0
# How long a process that was told to stop (or killed) may take to be gone.
EXIT_TIMEOUT_S = 5.0

_ROOT = Path(sandbox.__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """The whole environment of a sandbox process: what Python needs, nothing from the host."""
    return {
        "PATH": os.defpath,
        "PYTHONPATH": str(_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LC_ALL": "C.UTF-8",
        # glibc reserves a 64 MiB arena per thread; two keep RLIMIT_AS headroom for the module.
        "MALLOC_ARENA_MAX": "2",
    }


def spawn(module: str, fds: Sequence[int], args: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``python -m module args`` with only ``fds`` inherited."""
    return subprocess.Popen(
        [sys.executable, "-s", "-m", module, *args],
        pass_fds=tuple(fds),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        env=child_env(),
        cwd="/",
        start_new_session=True,
        close_fds=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    """Kill ``proc`` if it is still there, reap it, return its wait status (as subprocess)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    return proc.wait()


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class ColdChild:
    """One ``python -m sandbox.child`` for one run."""

    def __init__(self) -> None:
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()
        try:
            self.proc = spawn(
                "sandbox.child",
                (child_in, child_out),
                ("--in", str(child_in), "--out", str(child_out)),
            )
        finally:
            close_all((child_in, child_out))

    def send_setup(self, setup: Setup) -> None:
        write_frame(self.to_child, setup, deadline=time.monotonic() + EXIT_TIMEOUT_S)

    def finish(self, *, kill: bool) -> int:
        """Reap the child (killing it first when asked, or when it does not exit in time)."""
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(EXIT_TIMEOUT_S)
        status = stop(self.proc)
        close_all((self.to_child, self.from_child))
        return status


class Zygote:
    """A running ``python -m sandbox.zygote`` and the supervisor's ends of its four pipes."""

    def __init__(self) -> None:
        ctl_in, self.ctl_to = os.pipe()
        self.ctl_from, ctl_out = os.pipe()
        run_in, self.run_to = os.pipe()
        self.run_from, run_out = os.pipe()
        self._closed = False
        theirs = (ctl_in, ctl_out, run_in, run_out)
        flags = ("--ctl-in", "--ctl-out", "--run-in", "--run-out")
        args = [part for flag, fd in zip(flags, theirs, strict=True) for part in (flag, str(fd))]
        try:
            self.proc = spawn("sandbox.zygote", theirs, args)
        finally:
            close_all(theirs)
        try:
            ready = read_frame(
                self.ctl_from,
                max_bytes=MAX_CONTROL_FRAME,
                deadline=time.monotonic() + ZYGOTE_START_TIMEOUT_S,
            )
        except ProtocolError:
            self.close()
            raise
        if not isinstance(ready, ZygoteReady):
            self.close()
            raise ProtocolError(f"the zygote sent {ready.kind} instead of ready")
        self.enforcement: Enforcement = ready.enforcement

    def fork(self, setup: Setup) -> tuple[int, int]:
        """Ask for a run child; returns its pid and a pidfd to kill and await it by."""
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        write_frame(self.ctl_to, Fork(setup=setup), deadline=deadline)
        forked = read_frame(self.ctl_from, max_bytes=MAX_CONTROL_FRAME, deadline=deadline)
        if not isinstance(forked, Forked):
            raise ProtocolError(f"the zygote sent {forked.kind} instead of forked")
        return forked.pid, os.pidfd_open(forked.pid)

    def reap(self, pid: int, pidfd: int, *, kill: bool) -> Reaped:
        """Wait for the run child to exit (killing it first if asked or late); read Reaped."""
        try:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            ready, _, _ = select.select([pidfd], [], [], EXIT_TIMEOUT_S)
            if not ready:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)
        reaped = read_frame(
            self.ctl_from, max_bytes=MAX_CONTROL_FRAME, deadline=time.monotonic() + EXIT_TIMEOUT_S
        )
        if not isinstance(reaped, Reaped) or reaped.pid != pid:
            raise ProtocolError("the zygote's reap report does not match its child")
        return reaped

    def run_channel_clean(self) -> bool:
        """Whether nothing is left in the run pipe (a leftover means a child misbehaved)."""
        readable, _, _ = select.select([self.run_from], [], [], 0)
        return not readable

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the zygote (closing its control pipe ends its loop) and reap it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        close_all((self.ctl_to,))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(EXIT_TIMEOUT_S)
        stop(self.proc)
        close_all((self.ctl_from, self.run_to, self.run_from))
