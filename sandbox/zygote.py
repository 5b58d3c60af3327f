"""The warm path's zygote: a pre-hardened process that forks one sandboxed child per run.

Started once by :class:`sandbox.supervisor.Sandbox` as ``python -m sandbox.zygote --ctl-out FD
--run-in FD --run-out FD --filters FD [--cpu N]``. It pins itself to CPU N (its children inherit
it), reads the seccomp programs the supervisor compiled, applies the base kernel layers
(:func:`sandbox.harden.harden_base`: descriptors, rlimits, no_new_privs, capabilities, Landlock
network and scopes, seccomp), creates the wasmtime engine (no threads), hands everything a run
child needs to the native run core (:mod:`sandbox._runcore`, sandbox/native/runcore.h), and says
ZygoteReady. From then on it keeps exactly one run child ready: it forks it ahead of time
(reporting Forked with its pid), waits for it, reports Reaped (exit status, peak RSS), and
forks the next.

The run child never returns to Python (a forked interpreter copies on write every page of the
zygote's heap it touches, reference counts included: that was most of a warm run's cost). It
prepares its own Landlock ruleset with the runtime's read rules, reads its run's trusted Setup
from the supervisor, lowers its rlimits to the run's, adds the grants to its ruleset and
enforces it, loads the no-fork seccomp filter, checks the run's required layers, and only then
reads the untrusted Job, runs it in wasmtime and reports. The zygote itself never reads the run
pipe: no untrusted byte ever reaches it, and it takes no part in a run's critical path.

The zygote never makes a WASI call: wasmtime's WASI implementation starts a tokio runtime with
worker threads on the first one, and threads do not survive fork (nor would Landlock, applied
per run, bind them).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import sys
from collections.abc import Sequence

import wasmtime
import wasmtime._ffi

from sandbox import _runcore, childwire
from sandbox.child import CPU_GRACE_S, RUNTIME_ADDRESS_SPACE, plan_for
from sandbox.childwire import PlainLimits, PlainSetup
from sandbox.engine import make_engine
from sandbox.framing import ProtocolError, write_body
from sandbox.harden import harden_base, landlock, seccomp
from sandbox.harden.apply import run_layers
from sandbox.harden.runtime_paths import shared_read_paths
from sandbox.harden.shapes import (
    EnforcementFields,
    PlainEnforcement,
    PlainPlan,
    PlainRlimits,
    missing_layers,
)
from sandbox.kinds import LAYERS, MAX_MEMORY_MB, MAX_TIMEOUT_S


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


_DEFAULT_RLIMITS = PlainRlimits()


def _report_fields(report: EnforcementFields) -> str:
    """The Ready report's fields the run core sends as they are (it adds rlimits and notes)."""
    fields = childwire.enforcement_fields(report)
    del fields["rlimits"], fields["notes"]
    return json.dumps(fields, separators=(",", ":"))[1:-1]


def configure_core(
    engine: wasmtime.Engine,
    base: EnforcementFields,
    run_filter: seccomp.Program | None,
    *,
    run_in: int,
    run_out: int,
    ctl_out: int,
    rlimits: PlainRlimits = _DEFAULT_RLIMITS,
    runtime_as: int = RUNTIME_ADDRESS_SPACE,
    cpu_grace_s: int = CPU_GRACE_S,
) -> None:
    """Hand the native run core what every run child of this process needs (once).

    A run child's address space is ``runtime_as`` plus twice its memory limit and its CPU time
    its timeout plus ``cpu_grace_s``, as :func:`sandbox.child.plan_for` plans them; ``rlimits``
    gives the other limits (open files, processes, file size).
    """
    abi = landlock.abi_version()
    layers = run_layers(base, abi=abi, can_filter=seccomp.available(), run_filter=run_filter)
    held: list[str] = [x for x in sorted(LAYERS) if not missing_layers(layers.report, {x})]
    defaults = PlainLimits()
    _runcore.configure(
        library=wasmtime._ffi.dll._name,
        engine=ctypes.cast(engine.ptr(), ctypes.c_void_p).value,
        run_in=run_in,
        run_out=run_out,
        ctl_out=ctl_out,
        abi=abi,
        handled_fs=landlock.fs_rights(abi),
        scoped=landlock.scopes(abi),
        fs_read=landlock.FS_READ,
        fs_read_write=landlock.FS_READ_WRITE,
        fs_dir_only=landlock.FS_DIR_ONLY,
        read_paths=[str(path) for path in shared_read_paths()],
        run_filter=run_filter.bpf if run_filter is not None else None,
        filter_syscall=run_filter.syscall if run_filter is not None else 0,
        runtime_as=runtime_as,
        cpu_grace_s=cpu_grace_s,
        nofile=rlimits.open_files,
        nproc=rlimits.processes,
        fsize=rlimits.file_size_bytes,
        report_fields=_report_fields(layers.report),
        notes=list(layers.report.notes),
        held=held,
        degraded=list(layers.degraded),
        defaults=(
            defaults.fuel,
            defaults.memory_mb,
            defaults.timeout_s,
            defaults.max_output_kb,
            defaults.max_host_calls,
        ),
        trap_names=_trap_names(),
    )


def _trap_names() -> list[str]:
    """wasmtime's trap codes by number, named as :func:`sandbox.runtime.execute` names them."""
    by_code = {code.value: code.name.lower() for code in wasmtime.TrapCode}
    return [by_code.get(value, "unknown") for value in range(max(by_code) + 1)]


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
    configure_core(
        engine,
        base,
        filters.run if base.seccomp else None,
        run_in=fds.run_in,
        run_out=fds.run_out,
        ctl_out=fds.ctl_out,
    )
    write_body(fds.ctl_out, childwire.zygote_ready(base, os.getpid()))
    while True:
        # Only one run child exists at a time: the next is forked once the last is reaped, so
        # two children never share the run pipe.
        pid = _runcore.fork_spare()
        try:
            write_body(fds.ctl_out, childwire.forked(pid))
            _, status, usage = os.wait4(pid, 0)
            write_body(fds.ctl_out, childwire.reaped(pid, status, usage.ru_maxrss))
        except ProtocolError:
            os._exit(0)  # the supervisor closed the sandbox (or went away)


if __name__ == "__main__":
    sys.exit(main())
