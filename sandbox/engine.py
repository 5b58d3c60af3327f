"""The one wasmtime engine configuration every sandboxed run uses.

The settings are fixed (not per run) because compiled code depends on them: a module compiled
with one configuration must never be loaded into an engine with another, so the cache key
includes :func:`fingerprint`. They are chosen for a process under ``RLIMIT_AS``:

- ``memory_reservation=0`` and no guard region: wasmtime's default reserves about 4 GiB of
  address space per linear memory (bounds checks become free). Under an address-space rlimit
  that reservation alone would fail, so memories are allocated at their real size and bounds are
  checked explicitly; growth may move the memory (a copy, hence 2x memory in the AS budget),
  with 64 MiB reserved for growth in place.
- ``parallel_compilation=False``: compilation threads would exist before Landlock is applied in
  the warm path's zygote, and Landlock binds only the calling thread.
- fuel and epoch interruption on: the run's CPU budget and wall-clock deadline.
"""

from __future__ import annotations

import hashlib
import json

import wasmtime

# Guest stack for Wasm frames; deep enough for ordinary recursion, small enough that runaway
# recursion traps (stack_overflow) long before the host thread's own stack is at risk.
MAX_WASM_STACK = 1024 * 1024
# Address space reserved past a memory for growing in place. Growth beyond it moves (copies) the
# memory, so a module growing page by page copies once per 64 MiB instead of once per page; it
# costs address space only (covered by the child's RLIMIT_AS budget), not resident memory.
GROWTH_RESERVATION = 64 * 1024 * 1024

_SETTINGS: dict[str, object] = {
    "consume_fuel": True,
    "epoch_interruption": True,
    "parallel_compilation": False,
    "memory_reservation": 0,
    "memory_guard_size": 0,
    "memory_reservation_for_growth": GROWTH_RESERVATION,
    "max_wasm_stack": MAX_WASM_STACK,
    "cranelift_opt_level": "speed",
}


def make_config() -> wasmtime.Config:
    """A fresh :class:`wasmtime.Config` with the sandbox settings."""
    config = wasmtime.Config()
    for name, value in _SETTINGS.items():
        setattr(config, name, value)
    return config


def make_engine() -> wasmtime.Engine:
    """A new engine with the sandbox settings (creates no threads)."""
    return wasmtime.Engine(make_config())


def fingerprint() -> str:
    """Identifies the compiled-code format: wasmtime version plus the engine settings."""
    # Imported here: importlib.metadata costs tens of ms, and only the supervisor needs this.
    from importlib.metadata import version

    blob = json.dumps({"wasmtime": version("wasmtime"), **_SETTINGS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
