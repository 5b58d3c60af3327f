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
import sysconfig
import time
from collections.abc import Sequence
from pathlib import Path

import sandbox
from sandbox.harden.seccomp_build import handoff_fd
from sandbox.protocol import (
    MAX_CONTROL_FRAME,
    Forked,
    Message,
    ProtocolError,
    Reaped,
    ZygoteReady,
    read_frame,
)
from sandbox.spec import Enforcement

# How long a zygote may take to import, harden and say ready (a cold start is ~0.2 s).
ZYGOTE_START_TIMEOUT_S = 30.0
# How long a process that was told to stop (or killed) may take to be gone.
EXIT_TIMEOUT_S = 5.0

_ROOT = Path(sandbox.__file__).resolve().parent.parent


def _import_path() -> str:
    # The checkout, then this environment's site-packages, named explicitly: children start with
    # -S (no ``site``), so no .pth file or sitecustomize runs in them, and ``site``'s scan of
    # site-packages (~5 ms of every cold start) is skipped.
    paths = sysconfig.get_paths()
    roots = dict.fromkeys([str(_ROOT), paths["purelib"], paths["platlib"]])
    return os.pathsep.join(roots)


def child_env() -> dict[str, str]:
    """The whole environment of a sandbox process: what Python needs, nothing from the host."""
    return {
        "PATH": os.defpath,
        "PYTHONPATH": _import_path(),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LC_ALL": "C.UTF-8",
        # glibc reserves a 64 MiB arena per thread; two keep RLIMIT_AS headroom for the module.
        "MALLOC_ARENA_MAX": "2",
        # Keep freed heap pages instead of returning them: a spare's warm-up faults in the heap
        # its run's buffers need, and a run child lives for one run only.
        "MALLOC_TRIM_THRESHOLD_": str(64 * 1024 * 1024),
        # wasmtime's WASI runs each call with block_on on the calling thread; the tokio runtime
        # it starts on the first call spawns one worker per core by default, each a thread to
        # start, fault in and tear down per run. One is enough.
        "TOKIO_WORKER_THREADS": "1",
        # No third-party pydantic plugin may run inside the sandbox, and looking for them (an
        # entry-point scan of every installed distribution) costs ~8 ms of every cold start.
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }


def spawn(module: str, fds: Sequence[int], args: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``python -S -m module args --filters FD`` with only ``fds`` and the filters inherited.

    ``--filters`` names a sealed memfd holding the seccomp programs, compiled here once
    (:func:`sandbox.harden.seccomp_build.handoff_fd`): sandbox processes never import pyseccomp.
    The environment is :func:`child_env`.
    """
    filters = handoff_fd()
    try:
        return subprocess.Popen(
            [sys.executable, "-S", "-m", module, *args, "--filters", str(filters)],
            pass_fds=(*fds, filters),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=child_env(),
            cwd="/",
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(filters)


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

    def finish(self, *, kill: bool) -> int:
        """Reap the child (killing it first when asked, or when it does not exit in time)."""
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(EXIT_TIMEOUT_S)
        status = stop(self.proc)
        close_all((self.to_child, self.from_child))
        return status


class Zygote:
    """A running ``python -m sandbox.zygote`` and the supervisor's ends of its three pipes.

    The zygote keeps one run child ready (reported as Forked) and reports each one's end
    (Reaped). A run child is addressed directly over the run pipe; after a clean run the
    supervisor does not wait for it to exit: :meth:`next_child` does, before the next run may
    use the pipe, so two children never share it.
    """

    def __init__(self, cpu: int | None = None) -> None:
        """Start a zygote; ``cpu``: the one CPU it and its children run on (None: any)."""
        self._closed = False
        self._pending: tuple[int, int] | None = None  # last run child (pid, pidfd), not reaped
        self.ctl_from, ctl_out = os.pipe()
        run_in, self.run_to = os.pipe()
        self.run_from, run_out = os.pipe()
        theirs = (ctl_out, run_in, run_out)
        flags = ("--ctl-out", "--run-in", "--run-out")
        args = [part for flag, fd in zip(flags, theirs, strict=True) for part in (flag, str(fd))]
        if cpu is not None:
            args += ["--cpu", str(cpu)]
        try:
            self.proc = spawn("sandbox.zygote", theirs, args)
        finally:
            close_all(theirs)
        try:
            ready = self._read(ZYGOTE_START_TIMEOUT_S)
            if not isinstance(ready, ZygoteReady):
                raise ProtocolError(f"the zygote sent {ready.kind} instead of ready")
        except ProtocolError:
            self.close()
            raise
        self.enforcement: Enforcement = ready.enforcement

    def _read(self, timeout_s: float) -> Message:
        return read_frame(
            self.ctl_from, max_bytes=MAX_CONTROL_FRAME, deadline=time.monotonic() + timeout_s
        )

    def next_child(self) -> tuple[int, int]:
        """The ready run child: its pid and a pidfd to kill and await it by.

        Settles the previous run first (its child must be gone and the run pipe empty); raises
        :class:`ProtocolError` when the zygote is dead or misbehaving (then retire it).
        """
        if self._pending is not None:
            self.settle(kill=False)
            if not self.run_channel_clean():
                raise ProtocolError("the last run child left bytes in the run pipe")
        forked = self._read(ZYGOTE_START_TIMEOUT_S)
        if not isinstance(forked, Forked):
            raise ProtocolError(f"the zygote sent {forked.kind} instead of forked")
        pidfd = os.pidfd_open(forked.pid)
        self._pending = (forked.pid, pidfd)
        return forked.pid, pidfd

    def settle(self, *, kill: bool) -> Reaped:
        """Wait until the last run child is reaped (killing it first if asked or if it lingers)."""
        if self._pending is None:
            raise ProtocolError("no run child to settle")
        pid, pidfd = self._pending
        self._pending = None
        try:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            exited, _, _ = select.select([pidfd], [], [], EXIT_TIMEOUT_S)
            if not exited:  # reported Done but kept running: a misbehaving child
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)
        reaped = self._read(EXIT_TIMEOUT_S)
        if not isinstance(reaped, Reaped) or reaped.pid != pid:
            raise ProtocolError("the zygote's reap report does not match its child")
        return reaped

    def run_channel_clean(self) -> bool:
        """Whether nothing is left in the run pipes (a leftover means a child misbehaved)."""
        readable, _, _ = select.select([self.run_from], [], [], 0)
        return not readable

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the zygote and its waiting child, and reap it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._pending is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pending[1], signal.SIGKILL)
            close_all((self._pending[1],))
            self._pending = None
        # Closing the report pipe first makes the zygote's next report fail, so it exits; closing
        # the run pipe makes the waiting child read EOF and exit.
        close_all((self.ctl_from, self.run_to, self.run_from))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(EXIT_TIMEOUT_S)
        stop(self.proc)
