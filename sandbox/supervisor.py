"""Runs a module in a hardened child process and returns its :class:`~sandbox.spec.RunResult`.

Two entry points with the same contract:

- :func:`run`: the cold path, one fresh ``python -m sandbox.child`` per run (~0.1 s).
- :class:`Sandbox`: owns warm zygotes (pre-hardened, pre-imported) and forks one child per run
  (a few ms). The host keeps one for its lifetime; a crashed zygote is replaced on next use.

Both are thread-safe and block; from asyncio use ``await asyncio.to_thread(sandbox.run, spec)``.
The module never runs in this process. Its bytes are read here only to check their digest and
to pass them on; parsing and compiling happen in the hardened child.

Raises :class:`~host.errors.ModuleError` when the module file is missing or unreadable,
:class:`~host.errors.SandboxError` when a granted directory does not exist, and
:class:`~host.errors.HardeningError` when a layer in ``spec.require`` cannot be enforced.
Everything the module itself does (including a digest mismatch) is a status in the result.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from host.errors import HardeningError, ModuleError, SandboxError
from sandbox.cache import ModuleCache
from sandbox.child import MAX_MODULE_BYTES
from sandbox.processes import ColdChild, Zygote
from sandbox.protocol import Job, ProtocolError, Setup
from sandbox.session import Channel, Outcome, drive
from sandbox.spec import Enforcement, HostCallHandler, Preopen, RunResult, RunSpec, Status

__all__ = ["DEFAULT_ZYGOTES", "Sandbox", "run"]

# Concurrent warm runs before callers queue: two cover a 2-core machine; each zygote costs
# ~40 MiB resident.
DEFAULT_ZYGOTES = 2


def _read_module(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_MODULE_BYTES + 1)
    except FileNotFoundError:
        raise ModuleError(
            f"module {path} does not exist", hint="check the path, or build the skill first"
        ) from None
    except OSError as exc:
        raise ModuleError(f"module {path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_MODULE_BYTES:
        raise ModuleError(
            f"module {path} is larger than {MAX_MODULE_BYTES // (1024 * 1024)} MiB",
            hint="a skill module this large is not supported; strip debug sections",
        )
    return data


def _resolve(preopen: Preopen) -> Preopen:
    """The grant with its host path resolved (symlinks followed here, by the trusted side)."""
    try:
        real = preopen.host_path.resolve(strict=True)
    except OSError:
        raise SandboxError(
            f"granted directory {preopen.host_path} does not exist",
            hint="create it, or remove it from the grant",
        ) from None
    if not real.is_dir():
        raise SandboxError(
            f"granted path {preopen.host_path} is not a directory",
            hint="grants are directories; grant the folder that holds the file",
        )
    return preopen.model_copy(update={"host_path": real})


class _Prepared:
    """A spec turned into the trusted setup and the job, ready for either path."""

    def __init__(self, spec: RunSpec, handler: HostCallHandler | None) -> None:
        self.started = time.monotonic()
        self.module = _read_module(spec.module)
        self.sha256 = hashlib.sha256(self.module).hexdigest()
        self.spec = spec
        self.handler = handler
        dirs = tuple(_resolve(p) for p in spec.dirs)
        self.setup = Setup(
            ro_paths=tuple(str(d.host_path) for d in dirs if d.access == "ro"),
            rw_paths=tuple(str(d.host_path) for d in dirs if d.access == "rw"),
            limits=spec.limits,
            require=tuple(sorted(spec.require)),
        )
        self.dirs = dirs

    def mismatch(self) -> RunResult | None:
        expected = self.spec.expected_sha256
        if expected is None or expected.lower() == self.sha256:
            return None
        return RunResult(
            status=Status.INVALID_MODULE,
            error=f"module digest mismatch: expected sha256 {expected}, the file has {self.sha256}"
            " (the module changed since it was approved; rebuild or re-approve it)",
            module_sha256=self.sha256,
        )

    def job(self, cache: ModuleCache | None) -> Job:
        return Job(
            module=self.module,
            module_name=self.spec.module.name,
            artifact=cache.get(self.sha256) if cache is not None else None,
            input=self.spec.input,
            args=self.spec.args,
            env=self.spec.env,
            dirs=self.dirs,
            limits=self.spec.limits,
            host_calls=self.handler is not None,
        )

    def drive(self, channel: Channel, cache: ModuleCache | None) -> Outcome:
        return drive(
            channel,
            self.setup,
            lambda: self.job(cache),  # read from the cache while the child hardens
            handler=self.handler,
            cache=cache,
            module_sha256=self.sha256,
        )

    def result(self, outcome: Outcome, wait_status: int | None) -> RunResult:
        """The caller-facing result; every value from the child is re-checked here."""
        wall_ms = (time.monotonic() - self.started) * 1000
        base = {
            "wall_ms": wall_ms,
            "module_sha256": self.sha256,
            "enforcement": outcome.enforcement,
        }
        if outcome.failed is not None:
            if outcome.failed.hardening:
                raise HardeningError(outcome.failed.error)
            return RunResult(status=Status.SANDBOX_ERROR, error=outcome.failed.error, **base)
        if outcome.done is None:
            if outcome.timed_out:
                limit = self.spec.limits.timeout_s
                return RunResult(
                    status=Status.TIMEOUT,
                    error=f"the sandboxed child overstayed its {limit} s timeout and was killed",
                    **base,
                )
            why = outcome.broken or "the sandboxed child stopped without a result"
            if wait_status is not None and wait_status < 0:
                why += f" (it died from signal {-wait_status})"
            return RunResult(status=Status.SANDBOX_ERROR, error=why, **base)
        done = outcome.done
        cap = self.spec.limits.max_output_kb * 1024
        status, error = done.status, done.error
        if len(done.stdout) > cap or len(done.stderr) > cap:
            status = Status.OUTPUT_LIMIT
            error = f"the module wrote more than {self.spec.limits.max_output_kb} KiB"
        if status is Status.OK and done.exit_code != 0:
            status = Status.SANDBOX_ERROR
            error = "the child reported success with a non-zero exit code"
        fuel = done.fuel_used
        return RunResult(
            status=status,
            exit_code=done.exit_code,
            stdout=done.stdout[:cap].decode("utf-8", errors="replace"),
            stderr=done.stderr[:cap].decode("utf-8", errors="replace"),
            fuel_used=None if fuel is None else min(max(fuel, 0), self.spec.limits.fuel),
            peak_memory_bytes=done.peak_memory_bytes,
            error=error,
            **base,
        )


def run(
    spec: RunSpec,
    host_calls: HostCallHandler | None = None,
    *,
    cache: ModuleCache | None = None,
) -> RunResult:
    """Run ``spec`` in a fresh hardened child (cold path). ``cache``: compiled-module cache."""
    prepared = _Prepared(spec, host_calls)
    refused = prepared.mismatch()
    if refused is not None:
        return refused
    child = ColdChild()
    try:
        outcome = prepared.drive(Channel(child.to_child, child.from_child), cache)
    except ProtocolError as exc:
        outcome = Outcome(Enforcement(), broken=f"the sandboxed child failed: {exc.message}")
    except BaseException:
        child.finish(kill=True)
        raise
    status = child.finish(kill=outcome.broken is not None)
    return prepared.result(outcome, status)


@dataclass
class _Slot:
    """One place in the pool: the CPU its zygote is pinned to, and the zygote (None: start one)."""

    cpu: int | None
    zygote: Zygote | None = None


def _cpus_for(count: int) -> list[int | None]:
    """One CPU per zygote, round robin over the CPUs this process may use."""
    allowed = sorted(os.sched_getaffinity(0))
    return [allowed[i % len(allowed)] for i in range(count)]


class Sandbox:
    """Warm sandboxed runs: a pool of pre-hardened zygotes, one forked child per run.

    Use as a context manager (``with Sandbox() as box: box.run(spec)``), or call
    :meth:`close`. Compiled modules are cached in ``cache`` (default: a :class:`ModuleCache` at
    its default directory); ``use_cache=False`` compiles every time.

    With ``pin_cpus`` (the default) zygote *i* and its children run on the *i*-th CPU this
    process may use (round robin): runs taken in turn from the pool then alternate CPUs, so one
    CPU runs a module while the other readies the next child, and a child's page copies never
    bounce between CPUs. Back to back on 2 cores this took a run from 7.8 to 6.1 ms (p50).
    ``pin_cpus=False`` leaves placement to the scheduler.
    """

    def __init__(
        self,
        *,
        zygotes: int = DEFAULT_ZYGOTES,
        cache: ModuleCache | None = None,
        use_cache: bool = True,
        pin_cpus: bool = True,
    ) -> None:
        if zygotes < 1:
            raise SandboxError("a sandbox needs at least one zygote", hint="pass zygotes=1 or more")
        self.cache = (cache or ModuleCache()) if use_cache else None
        self._pool: queue.Queue[_Slot] = queue.Queue()  # FIFO: spares get time to warm
        cpus = _cpus_for(zygotes) if pin_cpus else [None] * zygotes
        for cpu in cpus:
            self._pool.put(_Slot(cpu))
        self._size = zygotes
        self._closed = False
        self._lock = threading.Lock()
        self._live: set[Zygote] = set()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start every zygote now (otherwise each starts on first use)."""
        taken = [self._pool.get() for _ in range(self._size)]
        try:
            for slot in taken:
                self._usable(slot)
        finally:
            for slot in taken:
                self._pool.put(slot)

    def pids(self) -> set[int]:
        """Process ids of the zygotes this sandbox keeps (for health checks and tests)."""
        with self._lock:
            return {z.proc.pid for z in self._live}

    def close(self) -> None:
        """Stop every zygote. Runs in progress finish first (their zygote is then stopped)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in range(self._size):
            self._discard(self._pool.get())

    def run(self, spec: RunSpec, host_calls: HostCallHandler | None = None) -> RunResult:
        """Same contract as :func:`run`, on a warm zygote."""
        if self._closed:
            raise SandboxError("this sandbox is closed", hint="create a new Sandbox")
        prepared = _Prepared(spec, host_calls)
        refused = prepared.mismatch()
        if refused is not None:
            return refused
        slot = self._pool.get()
        healthy = False
        try:
            for _ in range(2):
                result, healthy = self._attempt(self._usable(slot), prepared)
                if result is not None:
                    break
                # The zygote died before its child started (the child never read the job, so
                # nothing ran): replace it and try once more.
                self._discard(slot)
            else:
                raise SandboxError(
                    "the warm sandbox lost two zygotes in a row",
                    hint="see the host's stderr; the kernel may be refusing a layer",
                )
        finally:
            # A crashed or misbehaving run may have left bytes in the zygote's pipes: replace
            # the zygote (on the next run) rather than reuse it.
            if not healthy:
                self._discard(slot)
            self._pool.put(slot)
        return result

    def _attempt(self, zygote: Zygote, prepared: _Prepared) -> tuple[RunResult | None, bool]:
        try:
            zygote.next_child()
        except (ProtocolError, OSError):  # OSError: the ready child vanished (pidfd_open)
            return None, False
        return self._run_on(zygote, prepared)

    def _usable(self, slot: _Slot) -> Zygote:
        """The slot's zygote, started (or replaced, if it died) as needed."""
        if slot.zygote is not None and slot.zygote.alive():
            return slot.zygote
        self._discard(slot)
        fresh = Zygote(cpu=slot.cpu)
        with self._lock:
            self._live.add(fresh)
        slot.zygote = fresh
        return fresh

    def _discard(self, slot: _Slot) -> None:
        zygote, slot.zygote = slot.zygote, None
        if zygote is None:
            return
        with self._lock:
            self._live.discard(zygote)
        zygote.close()

    def _run_on(self, zygote: Zygote, prepared: _Prepared) -> tuple[RunResult | None, bool]:
        """The run's result and whether the zygote may be reused; None: retry elsewhere."""
        outcome = prepared.drive(Channel(zygote.run_to, zygote.run_from), self.cache)
        if outcome.broken is not None and not outcome.ready and outcome.failed is None:
            try:
                reaped = zygote.settle(kill=True)
            except ProtocolError:
                return None, False  # its zygote is gone (the report pipe reached EOF)
            return prepared.result(outcome, _signal_status(reaped.wait_status)), False
        if outcome.broken is None:
            # The child reported and is exiting; the next run makes sure it is gone (off this
            # run's critical path), see Zygote.next_child.
            return prepared.result(outcome, None), True
        try:
            reaped = zygote.settle(kill=True)
        except ProtocolError:
            return prepared.result(outcome, None), False
        return prepared.result(outcome, _signal_status(reaped.wait_status)), False


def _signal_status(wait_status: int) -> int:
    """A raw wait status as subprocess reports it: negative signal number when killed."""
    if os.WIFSIGNALED(wait_status):
        return -os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)
