"""How a run ends, mapped to a status: the wasmtime layer alone, in this process (no OS sandbox).

These pin the classification (trap codes, limits, output caps) fast; the same modules go
through the real hardened child in test_supervisor.py and tests/security/test_sandbox_*.py.
"""

from __future__ import annotations

import pytest
import wasmtime

from sandbox.engine import make_engine
from sandbox.protocol import Done, Job
from sandbox.runtime import compile_module, execute
from sandbox.spec import Limits, Status
from tests.sandbox.support import wasm_bytes

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    return make_engine()


def run(engine: wasmtime.Engine, wasm: bytes, limits: Limits | None = None) -> Done:
    job = Job(module=wasm, module_name="m.wasm", limits=limits or Limits(fuel=10_000_000))
    return execute(engine, compile_module(engine, job).module, job, None, stdin_fd_ok=False)


def test_clean_return_is_ok(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("hello"))
    assert (done.status, done.exit_code, done.stdout) == (Status.OK, 0, b"hello, world\n")
    assert done.fuel_used is not None
    assert 0 < done.fuel_used < 100


def test_proc_exit_nonzero(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("exit"))
    assert (done.status, done.exit_code, done.stderr) == (
        Status.EXIT_NONZERO,
        3,
        b"failing on purpose\n",
    )


def test_fuel_exhaustion(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("spin"), Limits(fuel=1_000_000))
    assert (done.status, done.fuel_used) == (Status.OUT_OF_FUEL, 1_000_000)


def test_wall_clock_timeout(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("spin"), Limits(fuel=100_000_000_000, timeout_s=0.2))
    assert done.status is Status.TIMEOUT
    assert done.error == "the module ran past its wall-clock timeout"


def test_stack_overflow_is_a_trap(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("recurse"))
    assert done.status is Status.TRAP
    assert done.error == "the module trapped: stack overflow (runaway recursion?)"


def test_unreachable_names_its_trap_code(engine: wasmtime.Engine) -> None:
    wasm = wasmtime.wat2wasm('(module (func (export "_start") unreachable))')
    done = run(engine, bytes(wasm))
    assert (done.status, done.error) == (Status.TRAP, "the module trapped: unreachable")


def test_refused_growth_is_memory_limit(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("grow"), Limits(fuel=10_000_000, memory_mb=2))
    assert done.status is Status.MEMORY_LIMIT
    assert done.peak_memory_bytes == 2 * MIB
    assert done.error == "the module needed more than its 2 MiB memory limit"


def test_initial_memory_over_the_limit(engine: wasmtime.Engine) -> None:
    wasm = wasmtime.wat2wasm('(module (memory 100) (func (export "_start")))')  # 6.25 MiB
    done = run(engine, bytes(wasm), Limits(memory_mb=1))
    assert done.status is Status.MEMORY_LIMIT
    assert done.error is not None
    assert "exceeds memory limits" in done.error


def test_output_flood_is_capped(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("flood"), Limits(fuel=10_000_000_000, max_output_kb=64))
    assert done.status is Status.OUTPUT_LIMIT
    assert len(done.stdout) == 64 * 1024


def test_unknown_import_is_invalid_module(engine: wasmtime.Engine) -> None:
    done = run(engine, wasm_bytes("system"))
    assert done.status is Status.INVALID_MODULE
    assert done.error is not None
    assert "`env::system` has not been defined" in done.error


def test_library_without_start_is_invalid_module(engine: wasmtime.Engine) -> None:
    done = run(engine, bytes(wasmtime.wat2wasm('(module (func (export "main")))')))
    assert done.status is Status.INVALID_MODULE
    assert done.error == "the module exports no _start function (not a WASI command module)"


def test_garbage_does_not_compile(engine: wasmtime.Engine) -> None:
    with pytest.raises(wasmtime.WasmtimeError):
        compile_module(engine, Job(module=b"\x00asm\x01\x00\x00\x00\xff", module_name="m"))


def test_unusable_artifact_falls_back_to_compiling(engine: wasmtime.Engine) -> None:
    job = Job(module=wasm_bytes("hello"), module_name="m", artifact=b"not native code")
    compiled = compile_module(engine, job)
    assert compiled.fresh_artifact is not None
    reuse = compile_module(engine, job.model_copy(update={"artifact": compiled.fresh_artifact}))
    assert reuse.fresh_artifact is None


def test_text_format_is_not_accepted_at_run_time(engine: wasmtime.Engine) -> None:
    job = Job(module=b'(module (func (export "_start")))', module_name="m.wat")
    with pytest.raises(wasmtime.WasmtimeError, match="not a WebAssembly binary"):
        compile_module(engine, job)
