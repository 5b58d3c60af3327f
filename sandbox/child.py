"""The sandboxed child: hardens itself, then reads one job, runs it, reports, and exits.

Cold path: ``python -m sandbox.child --in FD --out FD`` per run. It reads the trusted
:class:`~sandbox.protocol.Setup`, applies every kernel layer
(:func:`sandbox.harden.harden_process`), says :class:`~sandbox.protocol.Ready`, and only then
reads the untrusted :class:`~sandbox.protocol.Job`. Warm path: the zygote forks a native
run child that does the same in C (:mod:`sandbox.zygote`, sandbox/native/runcore.h).

The child frames its messages with :mod:`sandbox.childwire` (standard library only: it never
imports pydantic, about half of a cold start); the supervisor validates them with the strict
models of :mod:`sandbox.protocol`. The child talks only over the two inherited pipes: after
hardening, seccomp refuses socket() and execve(), Landlock refuses every path outside the grant
and the runtime's own files.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import wasmtime

from host.errors import AirlockError, HardeningError
from sandbox import childwire
from sandbox.childwire import SetupFields
from sandbox.engine import make_engine
from sandbox.framing import MAX_CONTROL_FRAME, read_body, write_body
from sandbox.harden.apply import harden_process
from sandbox.harden.seccomp import FilterSet
from sandbox.harden.shapes import EnforcementFields, PlainEnforcement, PlainPlan, PlainRlimits
from sandbox.kinds import Status
from sandbox.runtime import MAX_HOST_REPLY, compile_module, execute

MIB = 1024 * 1024
# Address space the Python interpreter, wasmtime's runtime and its worker threads map before a
# module's memory (measured around 0.5 GiB; doubled for thread stacks and allocator arenas).
RUNTIME_ADDRESS_SPACE = 1024 * MIB
# Grace added to the timeout for the CPU-seconds backstop (compilation happens before the clock).
CPU_GRACE_S = 5
# The largest module the supervisor sends (it checks first); a bigger job frame is garbage.
MAX_MODULE_BYTES = 64 * MIB
MAX_JOB_FRAME = 4 * MAX_MODULE_BYTES


def plan_for(setup: SetupFields, keep_fds: Sequence[int]) -> PlainPlan:
    """The hardening plan for one run (its grant and limits), from the supervisor's Setup."""
    limits = setup.limits
    rlimits = PlainRlimits(
        # Memory may move while growing (old and new copies at once), hence twice the limit.
        address_space_bytes=RUNTIME_ADDRESS_SPACE + 2 * limits.memory_mb * MIB,
        cpu_seconds=math.ceil(limits.timeout_s) + CPU_GRACE_S,
    )
    return PlainPlan(
        ro_paths=tuple(Path(p) for p in setup.ro_paths),
        rw_paths=tuple(Path(p) for p in setup.rw_paths),
        rlimits=rlimits,
        keep_fds=tuple(keep_fds),
        require=frozenset(setup.require),
    )


def serve_job(
    fd_in: int,
    fd_out: int,
    engine: wasmtime.Engine,
    enforcement: EnforcementFields,
) -> None:
    """Say Ready, read the job, run it, send Done. Call only in a hardened process."""
    write_body(fd_out, childwire.ready(enforcement))
    job = childwire.decode_job(read_body(fd_in, max_bytes=MAX_JOB_FRAME))
    try:
        compiled = compile_module(engine, job)
    except wasmtime.WasmtimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[-1] if lines else "unknown error"
        invalid = childwire.PlainDone(Status.INVALID_MODULE, error=f"invalid module: {detail}")
        write_body(fd_out, childwire.done(invalid))
        return
    if compiled.fresh_artifact is not None:
        write_body(fd_out, childwire.compiled(compiled.fresh_artifact))

    def transport(request: bytes) -> bytes:
        write_body(fd_out, childwire.host_call(request))
        return childwire.decode_host_reply(read_body(fd_in, max_bytes=2 * MAX_HOST_REPLY))

    done = execute(engine, compiled.module, job, transport if job.host_calls else None)
    write_body(fd_out, childwire.done(done))


def main(argv: Sequence[str] | None = None) -> int:
    """Cold-path entry point; never returns normally (exits without running finalizers)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.child")
    parser.add_argument("--in", dest="fd_in", type=int, required=True)
    parser.add_argument("--out", dest="fd_out", type=int, required=True)
    parser.add_argument("--filters", type=int, required=True, help="the seccomp programs' memfd")
    args = parser.parse_args(argv)
    code = 0
    try:
        setup = childwire.decode_setup(read_body(args.fd_in, max_bytes=MAX_CONTROL_FRAME))
        try:
            filters = FilterSet.read_from(args.filters)
            plan = plan_for(setup, (args.fd_in, args.fd_out))
            enforcement = harden_process(plan, PlainEnforcement, filters=filters)
        except HardeningError as exc:
            write_body(args.fd_out, childwire.failed(str(exc), hardening=True))
            os._exit(1)
        engine = make_engine()  # after hardening, which must run while we have a single thread
        serve_job(args.fd_in, args.fd_out, engine, enforcement)
    except AirlockError as exc:
        code = _report(args.fd_out, str(exc))
    except Exception as exc:
        code = _report(args.fd_out, f"{type(exc).__name__}: {exc}")
    # Skip interpreter teardown: wasmtime's worker threads may still be parked, and finalizers
    # have nothing to flush (everything was sent over the pipe).
    os._exit(code)


def _report(fd_out: int, error: str) -> int:
    with contextlib.suppress(AirlockError, OSError):
        write_body(fd_out, childwire.failed(error, hardening=False))
    return 1


if __name__ == "__main__":
    sys.exit(main())
