"""The warm path's zygote: a pre-hardened process that forks one sandboxed child per run.

Started once by :class:`sandbox.supervisor.Sandbox` as
``python -m sandbox.zygote --ctl-in FD --ctl-out FD --run-in FD --run-out FD``. It imports
everything, creates the wasmtime engine (no threads), applies the base kernel layers
(:func:`sandbox.harden.harden_base`: descriptors, rlimits, no_new_privs, capabilities, Landlock
network and scopes, seccomp), says ZygoteReady, then serves Fork requests on the control pipe.

For each Fork the forked child closes the control pipe, lowers its rlimits to the run's, adds
the Landlock filesystem layer for the run's grant and the no-fork seccomp filter
(:func:`sandbox.harden.harden_run`), and serves the run on the run pipes
(:func:`sandbox.child.serve_job`). The zygote itself never reads the run pipes: no untrusted
byte ever reaches it. It waits for the child, then reports Reaped (exit status, peak RSS).

A wasmtime store is never created in the zygote: its WASI implementation starts a tokio runtime
with worker threads, and threads do not survive fork.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple

import wasmtime

from host.errors import AirlockError, HardeningError
from sandbox.child import plan_for, serve_job
from sandbox.engine import make_engine
from sandbox.harden import HardeningPlan, RlimitPlan, harden_base, harden_run
from sandbox.protocol import (
    MAX_CONTROL_FRAME,
    Failed,
    Fork,
    Forked,
    ProtocolError,
    Reaped,
    Setup,
    ZygoteReady,
    read_frame,
    write_frame,
)
from sandbox.spec import MAX_MEMORY_MB, MAX_TIMEOUT_S, Enforcement, Limits
from sandbox.warmup import prepare, warm_up

GIB = 1024**3


def base_plan(keep_fds: Sequence[int]) -> HardeningPlan:
    """The zygote's own plan: no filesystem grant yet, rlimits wide enough for any run.

    Each child lowers them to its run's limits; a process can lower but never raise them.
    """
    widest = Limits(memory_mb=MAX_MEMORY_MB, timeout_s=MAX_TIMEOUT_S)
    rl = plan_for(Setup(limits=widest), ()).rlimits
    return HardeningPlan(
        rlimits=RlimitPlan(address_space_bytes=rl.address_space_bytes, cpu_seconds=rl.cpu_seconds),
        keep_fds=tuple(keep_fds),
    )


class Spare(NamedTuple):
    """The next run child, forked ahead of time, and the pipe that will carry its Fork."""

    pid: int
    go: int


def _child(
    fork: Fork, fds: argparse.Namespace, engine: wasmtime.Engine, base: Enforcement, zygote: int
) -> int:
    """Body of one run child once its Fork arrived; returns its exit code."""
    try:
        plan = plan_for(fork.setup, (fds.run_in, fds.run_out))
        enforcement = harden_run(plan, base, expected_parent=zygote)
    except HardeningError as exc:
        write_frame(fds.run_out, Failed(error=str(exc), hardening=True))
        return 1
    try:
        serve_job(fds.run_in, fds.run_out, engine, enforcement)
    except AirlockError as exc:
        write_frame(fds.run_out, Failed(error=str(exc)))
        return 1
    except Exception as exc:
        write_frame(fds.run_out, Failed(error=f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


def _spare(
    fds: argparse.Namespace, engine: wasmtime.Engine, base: Enforcement, warm: bytes
) -> Spare:
    """Fork the next run child now; it warms up, then waits for its Fork on a private pipe."""
    go_read, go_write = os.pipe()
    zygote = os.getpid()
    pid = os.fork()
    if pid:
        os.close(go_read)
        return Spare(pid, go_write)
    code = 1
    try:
        os.close(go_write)
        os.close(fds.ctl_in)  # the run child never sees the zygote's control channel
        os.close(fds.ctl_out)
        warm_up(engine, warm)
        try:
            # Only the zygote writes here (trusted); EOF means it is shutting down.
            fork = read_frame(go_read, max_bytes=MAX_CONTROL_FRAME)
        except ProtocolError:
            os._exit(0)
        os.close(go_read)
        if isinstance(fork, Fork):
            code = _child(fork, fds, engine, base, zygote)
    finally:
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve Fork requests until the supervisor closes the control pipe."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.zygote")
    for name in ("--ctl-in", "--ctl-out", "--run-in", "--run-out"):
        parser.add_argument(name, type=int, required=True)
    fds = parser.parse_args(argv)
    keep = (fds.ctl_in, fds.ctl_out, fds.run_in, fds.run_out)
    base = harden_base(base_plan(keep))
    engine = make_engine()  # creates no thread, so forked children stay single-threaded
    warm = prepare(engine)
    gc.freeze()  # keep the collector from touching (and un-sharing) the zygote's pages in children
    spare = _spare(fds, engine, base, warm)
    write_frame(fds.ctl_out, ZygoteReady(enforcement=base, pid=os.getpid()))
    while True:
        try:
            request = read_frame(fds.ctl_in, max_bytes=MAX_CONTROL_FRAME)
        except ProtocolError:
            request = None  # the supervisor closed us (or went away)
        if not isinstance(request, Fork):
            os.close(spare.go)  # the spare sees EOF and exits
            os.waitpid(spare.pid, 0)
            os._exit(0 if request is None else 2)
        write_frame(spare.go, request)
        os.close(spare.go)
        write_frame(fds.ctl_out, Forked(pid=spare.pid))
        _, status, usage = os.wait4(spare.pid, 0)
        write_frame(
            fds.ctl_out, Reaped(pid=spare.pid, wait_status=status, maxrss_kb=usage.ru_maxrss)
        )
        spare = _spare(fds, engine, base, warm)


if __name__ == "__main__":
    sys.exit(main())
