"""The spare's warm-up: runs a run's code paths without a thread, and stops when asked."""

from __future__ import annotations

import os

from sandbox.engine import make_engine
from sandbox.harden.shapes import PlainEnforcement
from sandbox.runtime import RunLinker
from sandbox.warmup import prepare, warm_up


def _warm_up(stop_after: int | None) -> int:
    """Run a warm-up that stops at the ``stop_after``-th question; returns how often it asked."""
    engine = make_engine()
    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return stop_after is not None and asked >= stop_after

    warm_up(engine, prepare(engine), RunLinker(engine), PlainEnforcement(), stop_when=stop)
    return asked


def test_warm_up_asks_before_each_step_and_starts_no_thread() -> None:
    before = set(os.listdir("/proc/self/task"))
    steps = _warm_up(stop_after=None)
    assert steps >= 4  # asked before every step, and the whole warm-up ran
    # No WASI call was made, so wasmtime started no (native) thread either.
    assert set(os.listdir("/proc/self/task")) == before


def test_warm_up_stops_as_soon_as_the_run_is_waiting() -> None:
    assert _warm_up(stop_after=1) == 1
    assert _warm_up(stop_after=3) == 3
