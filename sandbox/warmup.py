"""Pre-touching, in a spare run child, what every run touches (warm path only).

A child forked from the zygote shares its memory copy-on-write: the first write to each page
(Python reference counts, wasmtime's lazily initialised state) costs a page fault and a copy.
The zygote forks the next child ahead of time, and that spare calls :func:`warm_up` while it
waits for its run, so those faults happen off the critical path. (When runs come back to back
the run arrives while the spare is still warming up, and the spare stops there: the faults
left cost the same during the run, and the warm-up's own work would only add to it.) The
zygote runs it once too, so that lazily built state (wasmtime's and Python's caches) is
inherited rather than rebuilt per child.

Nothing here may start a thread: the run's Landlock layer is applied after this, and Landlock
only binds the calling thread. So no WASI call is made (wasmtime's WASI starts a tokio runtime
with worker threads on the first one): the module run here imports WASI and the host calls but
never calls them, and the WASI structures are built but not started. Everything used is
trusted and built in (no untrusted byte is involved).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator

import wasmtime

from sandbox import childwire
from sandbox.child import plan_for
from sandbox.childwire import PlainSetup
from sandbox.harden.apply import copy_report
from sandbox.harden.shapes import EnforcementFields
from sandbox.kinds import Status
from sandbox.runtime import RunLinker, build_run_objects

# Bytes of compiled module the warm-up job carries: decoding it faults in as much heap as a small
# skill's job needs (its frame, the JSON string, the base64 and the decoded bytes), and with
# trimming off in sandbox processes (sandbox.processes.child_env) those pages stay for the run.
WARM_ARTIFACT_BYTES = 32 * 1024

# A Job frame body as the supervisor writes one (tests/sandbox/test_childwire.py checks it against
# sandbox.protocol.Job), decoded by every spare so that the decoder's pages are warm too.
WARM_JOB = json.dumps(
    {
        "kind": "job",
        "module": base64.urlsafe_b64encode(b"\0asm\1\0\0\0").decode(),
        "module_name": "warm.wasm",
        "artifact": base64.urlsafe_b64encode(bytes(WARM_ARTIFACT_BYTES)).decode(),
        "args": ["warm"],
        "env": [["WARM", "1"]],
        "limits": {"fuel": 1_000_000, "memory_mb": 1, "timeout_s": 1.0},
    },
    separators=(",", ":"),
).encode()

# A module that loops a little and touches its memory (fuel, epoch checks, memory), and imports
# what skills import so that instantiation resolves them (WASI and the host calls). It never
# calls an import: the first WASI call starts wasmtime's tokio threads, and no thread may start
# before the run's Landlock layer.
_WAT = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (import "airlock" "call" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (loop $again
      (i32.store (local.get $i) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 4096))))))
"""


def prepare(engine: wasmtime.Engine) -> bytes:
    """In the zygote: the warm-up module, compiled once and serialized."""
    return bytes(wasmtime.Module(engine, _WAT).serialize())


def warm_up(
    engine: wasmtime.Engine,
    artifact: bytes,
    linker: RunLinker,
    base: EnforcementFields,
    *,
    stop_when: Callable[[], bool] | None = None,
) -> None:
    """Exercise a run's code paths, in the run's order, without starting any thread.

    The zygote calls it once (wasmtime's and Python's lazily built state is then inherited by
    every child), and each spare child again (its own copy-on-write faults). ``base``: the
    zygote's enforcement report, encoded as a run's Ready frame would carry it. ``stop_when``
    is asked before each step; once it is true the rest is skipped (a spare stops when its run
    has arrived: the faults left are then cheaper taken by the run than added to its wait).
    """
    for _ in _steps(engine, artifact, linker, base):
        if stop_when is not None and stop_when():
            return


def _steps(
    engine: wasmtime.Engine, artifact: bytes, linker: RunLinker, base: EnforcementFields
) -> Iterator[None]:
    yield
    # The run's hardening builds a plan from its setup and copies the report it updates; then
    # Ready, then the job.
    plan_for(PlainSetup(), ())
    copy_report(base)
    childwire.ready(base)
    job = childwire.decode_job(WARM_JOB)
    yield
    module = wasmtime.Module.deserialize(engine, artifact)
    yield
    build_run_objects(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [job.module_name, *job.args]
    wasi.env = [list(pair) for pair in job.env]
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    store.set_fuel(job.limits.fuel)
    store.set_epoch_deadline(1000)
    store.set_limits(memory_size=1 << 20, table_elements=1000, instances=4, tables=4, memories=2)
    yield
    linker.bind(None, 0)
    instance = linker.linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    start(store)
    memory = instance.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    stdout = bytes(memory.read(store, 0, 64))
    yield
    childwire.done(childwire.PlainDone(Status.OK, exit_code=0, stdout=stdout))
