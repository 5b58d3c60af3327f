"""The warm path's zygote: a pre-hardened process that forks one sandboxed child per run.

Started once by :class:`sandbox.supervisor.Sandbox` as ``python -m sandbox.zygote --ctl-out FD
--run-in FD --run-out FD --filters FD [--cpu N]``. It pins itself to CPU N (its children inherit
it), reads the seccomp programs the supervisor compiled, applies the base kernel layers
(:func:`sandbox.harden.harden_base`: descriptors, rlimits, no_new_privs, capabilities, Landlock
network and scopes, seccomp), creates the wasmtime engine (no threads) and a linker with the
imports every run needs, runs the warm-up once, and says ZygoteReady. From then on it keeps
exactly one run child ready: it forks it ahead of time (reporting Forked with its pid), waits
for it, reports Reaped (exit status, peak RSS), and forks the next.

The run child closes the report pipe, pre-touches its pages until its run arrives
(:mod:`sandbox.warmup`) and does the run-independent part of its hardening
(:func:`sandbox.harden.prepare_run`: its own Landlock ruleset holding the runtime's read rules,
and the run seccomp filter ready to load). Then it reads its run's trusted Setup
from the supervisor, lowers its rlimits to the run's, adds the grants to its ruleset and
enforces it, loads the no-fork seccomp filter (:func:`sandbox.harden.harden_run`), checks the
run's required layers, and only then reads the untrusted Job (:func:`sandbox.child.serve_job`).
The zygote itself never reads the run pipe: no untrusted byte ever reaches it, and it takes no
part in a run's critical path.

The zygote never makes a WASI call (its warm-up module never calls an import): wasmtime's WASI
implementation starts a tokio runtime with worker threads on the first one, and threads do not
survive fork.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import select
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import wasmtime

from host.errors import AirlockError, HardeningError
from sandbox import childwire
from sandbox.child import plan_for, serve_job
from sandbox.childwire import PlainLimits, PlainSetup
from sandbox.engine import make_engine
from sandbox.framing import MAX_CONTROL_FRAME, ProtocolError, read_body, write_body
from sandbox.harden import (
    RunPreparation,
    harden_base,
    harden_run,
    prepare_run,
    privileges,
    runtime_read_paths,
    seccomp,
)
from sandbox.harden.shapes import PlainEnforcement, PlainPlan, PlainRlimits, missing_layers
from sandbox.kinds import MAX_MEMORY_MB, MAX_TIMEOUT_S
from sandbox.runtime import RunLinker
from sandbox.warmup import prepare, warm_up


def base_plan(keep_fds: Sequence[int]) -> PlainPlan:
    """The zygote's own plan: no filesystem grant yet, rlimits wide enough for any run.

    Each child lowers them to its run's limits; a process can lower but never raise them.
    """
    widest = PlainLimits(memory_mb=MAX_MEMORY_MB, timeout_s=MAX_TIMEOUT_S)
    rl = plan_for(PlainSetup(limits=widest), ()).rlimits
    return PlainPlan(
        rlimits=PlainRlimits(
            address_space_bytes=rl.address_space_bytes, cpu_seconds=rl.cpu_seconds
        ),
        keep_fds=tuple(keep_fds),
    )


@dataclass(frozen=True)
class _Shared:
    """What the zygote builds once and every run child inherits."""

    engine: wasmtime.Engine
    base: PlainEnforcement
    warm: bytes  # the warm-up module, serialized
    linker: RunLinker  # WASI and the host-call imports, defined once for every run
    run_filter: seccomp.Program | None  # the run seccomp filter, compiled (None: no seccomp)


def _run_child(fds: argparse.Namespace, shared: _Shared, prepared: RunPreparation) -> int:
    """Body of a spare once the supervisor addresses it: returns its exit code."""
    zygote = os.getppid()
    try:
        body = read_body(fds.run_in, max_bytes=MAX_CONTROL_FRAME)
    except ProtocolError:
        return 0  # the supervisor closed the sandbox: nothing to run
    try:
        # The supervisor is the only writer of the run pipe, and this trusted Setup is the
        # first frame of every run; the untrusted Job behind it is read only once hardened.
        setup = childwire.decode_setup(body)
    except ProtocolError as exc:
        write_body(fds.run_out, childwire.failed(str(exc), hardening=False))
        return 1
    try:
        plan = plan_for(setup, (fds.run_in, fds.run_out))
        enforcement = harden_run(plan, shared.base, expected_parent=zygote, prepared=prepared)
        missing = missing_layers(enforcement, frozenset(setup.require))
        if missing:  # layers applied once by the zygote, checked against this run's needs
            raise HardeningError(f"the run requires {', '.join(missing)}, not enforced here")
    except HardeningError as exc:
        write_body(fds.run_out, childwire.failed(str(exc), hardening=True))
        return 1
    try:
        serve_job(fds.run_in, fds.run_out, shared.engine, enforcement, shared.linker)
    except AirlockError as exc:
        write_body(fds.run_out, childwire.failed(str(exc), hardening=False))
        return 1
    except Exception as exc:
        write_body(fds.run_out, childwire.failed(f"{type(exc).__name__}: {exc}", hardening=False))
        return 1
    return 0


def _run_waiting(run_in: int) -> bool:
    """Whether the supervisor has already written this child's run (without reading it)."""
    readable, _, _ = select.select([run_in], [], [], 0)
    return bool(readable)


def _fork_spare(fds: argparse.Namespace, shared: _Shared) -> int:
    """Fork the next run child now; it warms up, then waits for its run on the run pipe."""
    zygote = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        privileges.set_parent_death_signal(zygote)  # fork cleared it: die with the zygote
        os.close(fds.ctl_out)  # the run child never sees the zygote's report channel
        gc.disable()  # a short-lived child: collection would only touch (and copy) every page
        # What every run needs first, before any byte of the run is read.
        prepared = prepare_run(shared.run_filter)
        # Then fault in the run's pages while idle, off its critical path; once the run is
        # waiting (runs back to back), more warm-up would only add its own cost to the wait.
        warm_up(
            shared.engine,
            shared.warm,
            shared.linker,
            shared.base,
            stop_when=lambda: _run_waiting(fds.run_in),
        )
        code = _run_child(fds, shared, prepared)
    finally:
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Keep one spare run child ready; report each one (Forked) and its end (Reaped)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.zygote")
    for name in ("--ctl-out", "--run-in", "--run-out"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--cpu", type=int, help="run this zygote and its children on this CPU")
    parser.add_argument("--filters", type=int, required=True, help="the seccomp programs' memfd")
    fds = parser.parse_args(argv)
    if fds.cpu is not None:
        # Placement only, not a security layer: if the CPU is gone (hot-unplugged, or outside
        # a changed cpuset) the scheduler places the zygote instead.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {fds.cpu})
    filters = seccomp.FilterSet.read_from(fds.filters)
    plan = base_plan((fds.ctl_out, fds.run_in, fds.run_out))
    base = harden_base(plan, PlainEnforcement, base_filter=filters.base)
    engine = make_engine()  # creates no thread, so forked children stay single-threaded
    run_filter = filters.run if base.seccomp else None
    runtime_read_paths()  # resolves (and caches) the paths every child's ruleset needs
    shared = _Shared(engine, base, prepare(engine), RunLinker(engine), run_filter)
    # Lazily built state (wasmtime's, Python's caches), built once here for every child.
    warm_up(engine, shared.warm, shared.linker, base)
    gc.freeze()  # keep the collector from touching (and un-sharing) the zygote's pages in children
    write_body(fds.ctl_out, childwire.zygote_ready(base, os.getpid()))
    while True:
        # Only one run child exists at a time: the next is forked once the last is reaped, so
        # two children never share the run pipe.
        pid = _fork_spare(fds, shared)
        try:
            write_body(fds.ctl_out, childwire.forked(pid))
            _, status, usage = os.wait4(pid, 0)
            write_body(fds.ctl_out, childwire.reaped(pid, status, usage.ru_maxrss))
        except ProtocolError:
            os._exit(0)  # the supervisor closed the sandbox (or went away)


if __name__ == "__main__":
    sys.exit(main())
