"""Runs one WASI preview1 command module in wasmtime, inside whatever process calls it.

This is the innermost layer: fuel, an epoch deadline, store limits, capped output sinks, exactly
the granted preopens, args and environment, and the ``airlock`` host-call import. It applies no
OS sandboxing itself; :mod:`sandbox.child` calls it only once the process is hardened (and the
benchmark calls it bare, as the in-process floor).

How a run ends is classified from wasmtime's trap codes, not from message text, with two
exceptions where wasmtime offers no code: an instantiation refused by the memory limit, and an
unknown import (both are reported by wasmtime as plain errors).
"""

from __future__ import annotations

import _thread
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import wasmtime

from sandbox.childwire import JobFields, PlainDone
from sandbox.kinds import Status

__all__ = [
    "MAX_HOST_REPLY",
    "MAX_HOST_REQUEST",
    "Compiled",
    "RunLinker",
    "compile_module",
    "execute",
]

MAX_HOST_REQUEST = 64 * 1024  # ABI v1: a request document is small; bulk data goes by preopen
MAX_HOST_REPLY = 8 * 1024 * 1024  # ABI v1: enforced by the supervisor, re-checked here
PAGE = 65536
WASM_MAGIC = b"\0asm"
# Per-store ceilings besides linear memory. A command module has one instance, one memory and
# one or two tables; these keep a module from allocating its way around the memory limit.
MAX_TABLE_ELEMENTS = 1_000_000
MAX_INSTANCES = 4
MAX_TABLES = 8
MAX_MEMORIES = 2
# Epoch ticks per run: the deadline's resolution is timeout/_TICKS (10 ms at the 10 s default).
_TICKS = 1000
_MIN_TICK_S = 0.005

# ABI v1 error codes, see docs/skill-abi.md
E_OUTSIDE = -1
E_TOO_LARGE = -2
E_BUDGET = -3
E_NO_HANDLER = -4
E_NO_REPLY = -5

HostTransport = Callable[[bytes], bytes]


@dataclass
class Compiled:
    """A compiled module, and its serialized form when it was compiled (not loaded) now."""

    module: wasmtime.Module
    fresh_artifact: bytes | None


def compile_module(engine: wasmtime.Engine, job: JobFields) -> Compiled:
    """Load the job's cached artifact if it is usable, else compile the module bytes.

    Raises :class:`wasmtime.WasmtimeError` when the bytes are not a valid module. Only the
    binary format is accepted (wasmtime would also parse text): the text parser is one more
    piece of attack surface, and callers convert ``.wat`` before a run.
    """
    if not job.module.startswith(WASM_MAGIC):
        raise wasmtime.WasmtimeError(
            "the file does not start with the \\0asm magic bytes (it is not a WebAssembly binary)"
        )
    if job.artifact is not None:
        try:
            return Compiled(wasmtime.Module.deserialize(engine, job.artifact), None)
        except wasmtime.WasmtimeError:
            pass  # stale or foreign artifact: compile again below
    module = wasmtime.Module(engine, job.module)
    return Compiled(module, bytes(module.serialize()))


class _Interrupter:
    """Drives the epoch deadline from a timer thread and lets output caps end the run early."""

    def __init__(self, engine: wasmtime.Engine, timeout_s: float) -> None:
        self.engine = engine
        self.tick_s = max(_MIN_TICK_S, timeout_s / _TICKS)
        self.ticks = max(1, math.ceil(timeout_s / self.tick_s))
        self.reason: Status | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = _thread.allocate_lock()  # held while the ticker thread runs

    def start(self) -> None:
        # A bare thread: threading.Thread.start() also waits for the new thread to be scheduled
        # (a round trip through the scheduler, ~0.3 ms in a fresh child) for bookkeeping this
        # ticker never needs.
        self._running.acquire()
        try:
            _thread.start_new_thread(self._run, ())
        except BaseException:
            self._running.release()
            raise

    def stop(self) -> None:
        """Stop the ticker and wait until its thread has returned."""
        self._stop.set()
        with self._running:
            pass

    def _run(self) -> None:
        try:
            for _ in range(self.ticks + 1):
                if self._stop.wait(self.tick_s):
                    return
                self.engine.increment_epoch()
            self.interrupt(Status.TIMEOUT)
        finally:
            self._running.release()

    def interrupt(self, reason: Status) -> None:
        """End the run at its next epoch check (loop back-edge or function entry)."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        for _ in range(self.ticks + 1):
            self.engine.increment_epoch()


@dataclass
class _Sink:
    """A WASI output stream that keeps at most ``cap`` bytes and ends the run past that."""

    cap: int
    interrupter: _Interrupter
    data: bytearray = field(default_factory=bytearray)
    overflowed: bool = False

    def __call__(self, chunk: bytes) -> int:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.data += chunk[: max(room, 0)]
            self.overflowed = True
            self.interrupter.interrupt(Status.OUTPUT_LIMIT)
        else:
            self.data += chunk
        return len(chunk)


class _HostCalls:
    """State of the ``airlock`` import for one run: budget and the reply waiting to be copied."""

    def __init__(self, transport: HostTransport | None, budget: int) -> None:
        self.transport = transport
        self.budget = budget
        self.used = 0
        self.pending: bytes | None = None

    @staticmethod
    def _memory(caller: wasmtime.Caller) -> wasmtime.Memory | None:
        memory = caller.get("memory")
        return memory if isinstance(memory, wasmtime.Memory) else None

    @staticmethod
    def _inside(memory: wasmtime.Memory, caller: wasmtime.Caller, ptr: int, length: int) -> bool:
        return ptr >= 0 and length >= 0 and ptr + length <= memory.data_len(caller)

    def call(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        memory = self._memory(caller)
        if memory is None or not self._inside(memory, caller, ptr, length):
            return E_OUTSIDE
        if length > MAX_HOST_REQUEST:
            return E_TOO_LARGE
        if self.transport is None:
            return E_NO_HANDLER
        if self.used >= self.budget:
            return E_BUDGET
        self.used += 1
        request = bytes(memory.read(caller, ptr, ptr + length))
        self.pending = self.transport(request)[:MAX_HOST_REPLY]
        return len(self.pending)

    def reply(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        if self.pending is None:
            return E_NO_REPLY
        memory = self._memory(caller)
        if memory is None or not self._inside(memory, caller, ptr, length):
            return E_OUTSIDE
        if length < len(self.pending):
            return E_TOO_LARGE
        memory.write(caller, self.pending, ptr)
        size = len(self.pending)
        self.pending = None
        return size


class RunLinker:
    """A linker with WASI and the ``airlock`` imports defined, reusable for one run at a time.

    Defining the imports is per-engine work (about 0.8 ms in a freshly forked child, most of it
    page faults), so the zygote builds one and every run child inherits it; each run then only
    binds its own host-call state (:meth:`bind`). Not for concurrent runs in one process.
    """

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.linker = wasmtime.Linker(engine)
        self.linker.define_wasi()
        self._calls = _HostCalls(None, 0)
        i32 = wasmtime.ValType.i32()
        sig = wasmtime.FuncType([i32, i32], [i32])
        # The imports look the state up at call time: it belongs to the run, the linker does not.
        self.linker.define_func("airlock", "call", sig, self._call, access_caller=True)
        self.linker.define_func("airlock", "reply", sig, self._reply, access_caller=True)

    def bind(self, transport: HostTransport | None, budget: int) -> None:
        """Fresh host-call state for the next run: its transport (None: calls answer -4)."""
        self._calls = _HostCalls(transport, budget)

    def _call(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        return self._calls.call(caller, ptr, length)

    def _reply(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        return self._calls.reply(caller, ptr, length)


def _stdin_from(data: bytes) -> None:
    """Make fd 0 an anonymous in-memory file holding ``data`` (no thread, no size trouble)."""
    fd = os.memfd_create("airlock-stdin", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        os.dup2(fd, 0, inheritable=False)
    finally:
        os.close(fd)


def _peak(instance: wasmtime.Instance | None, store: wasmtime.Store) -> int | None:
    if instance is None:
        return None
    memory = instance.exports(store).get("memory")
    return memory.data_len(store) if isinstance(memory, wasmtime.Memory) else None


def execute(
    engine: wasmtime.Engine,
    compiled: wasmtime.Module,
    job: JobFields,
    transport: HostTransport | None,
    *,
    stdin_fd_ok: bool = True,
    linker: RunLinker | None = None,
) -> PlainDone:
    """Run ``compiled`` as a WASI command under the job's limits and return how it ended.

    ``transport`` carries ``airlock.call`` requests to the handler (None: calls answer -4).
    With ``stdin_fd_ok`` the job's input is served on this process's fd 0 (replaced).
    ``linker``: one built ahead for ``engine`` (default: a new one).
    """
    limits = job.limits
    memory_cap = limits.memory_mb * 1024 * 1024
    interrupter = _Interrupter(engine, limits.timeout_s)
    out = _Sink(limits.max_output_kb * 1024, interrupter)
    err = _Sink(limits.max_output_kb * 1024, interrupter)

    wasi = wasmtime.WasiConfig()
    wasi.argv = [job.module_name, *job.args]
    wasi.env = [list(pair) for pair in job.env]
    if stdin_fd_ok:
        _stdin_from(job.input)
        wasi.inherit_stdin()
    wasi.stdout_custom = out
    wasi.stderr_custom = err
    for preopen in job.dirs:
        wasi.preopen_dir(str(preopen.host_path), preopen.guest_path, preopen.access == "rw")

    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    store.set_fuel(limits.fuel)
    store.set_epoch_deadline(interrupter.ticks)
    store.set_limits(
        memory_size=memory_cap,
        table_elements=MAX_TABLE_ELEMENTS,
        instances=MAX_INSTANCES,
        tables=MAX_TABLES,
        memories=MAX_MEMORIES,
    )
    linker = linker or RunLinker(engine)
    linker.bind(transport, limits.max_host_calls if transport else 0)

    instance: wasmtime.Instance | None = None
    status: Status = Status.OK
    exit_code: int | None = 0
    error: str | None = None
    interrupter.start()
    try:
        instance = linker.linker.instantiate(store, compiled)
        start = instance.exports(store).get("_start")
        if not isinstance(start, wasmtime.Func):
            status, exit_code = Status.INVALID_MODULE, None
            error = "the module exports no _start function (not a WASI command module)"
        else:
            start(store)
    except wasmtime.ExitTrap as exc:
        exit_code = exc.code
        status = Status.OK if exc.code == 0 else Status.EXIT_NONZERO
    except wasmtime.Trap as exc:
        status, exit_code, error = _classify_trap(exc, interrupter.reason)
    except wasmtime.WasmtimeError as exc:
        status, exit_code, error = _classify_error(str(exc))
    finally:
        interrupter.stop()

    peak = _peak(instance, store)
    if out.overflowed or err.overflowed:
        status = Status.OUTPUT_LIMIT
        error = f"the module wrote more than {limits.max_output_kb} KiB"
    elif status in {Status.TRAP, Status.EXIT_NONZERO} and _at_limit(peak, memory_cap):
        # wasmtime refuses memory.grow with -1 and no trap code; a module that then fails while
        # its memory cannot grow by one more page ran out of its memory limit.
        status = Status.MEMORY_LIMIT
        error = f"the module needed more than its {limits.memory_mb} MiB memory limit"
    return PlainDone(
        status=status,
        exit_code=exit_code,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        fuel_used=limits.fuel - store.get_fuel(),
        peak_memory_bytes=peak,
        error=error,
    )


def _at_limit(peak: int | None, memory_cap: int) -> bool:
    return peak is not None and peak + PAGE > memory_cap


def _classify_trap(exc: wasmtime.Trap, reason: Status | None) -> tuple[Status, None, str]:
    code = exc.trap_code
    if code is wasmtime.TrapCode.OUT_OF_FUEL:
        return Status.OUT_OF_FUEL, None, "the module used up its fuel (CPU budget)"
    if code is wasmtime.TrapCode.INTERRUPT:
        if reason is Status.OUTPUT_LIMIT:
            return Status.OUTPUT_LIMIT, None, "the module wrote more than its output limit"
        return Status.TIMEOUT, None, "the module ran past its wall-clock timeout"
    if code is wasmtime.TrapCode.STACK_OVERFLOW:
        return Status.TRAP, None, "the module trapped: stack overflow (runaway recursion?)"
    name = code.name.lower() if code is not None else "unknown"
    return Status.TRAP, None, f"the module trapped: {name}"


def _classify_error(message: str) -> tuple[Status, None, str]:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if "exceeds memory limits" in first:
        return Status.MEMORY_LIMIT, None, f"the module's initial memory is too large: {first}"
    if first.startswith("unknown import"):
        return (
            Status.INVALID_MODULE,
            None,
            f"the module imports what Airlock does not provide: {first}",
        )
    return Status.SANDBOX_ERROR, None, f"wasmtime refused to run the module: {first}"
