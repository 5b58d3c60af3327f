"""Attacks on resources: every runaway module ends with its own status, within its limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import supervisor
from sandbox.session import KILL_GRACE_S
from sandbox.spec import Limits, RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, stray_processes, write_module

__all__ = ["box"]

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def host_stays_healthy(box: Sandbox, tmp_path: Path) -> Iterator[None]:
    yield
    assert stray_processes() == set(), "a sandbox process outlived its run"
    healthy = box.run(RunSpec(module=write_module(tmp_path, "hello")))
    assert healthy.status is Status.OK


def test_spin_runs_out_of_fuel(box: Sandbox, tmp_path: Path) -> None:
    spec = RunSpec(module=write_module(tmp_path, "spin"), limits=Limits(fuel=20_000_000))
    result = box.run(spec)
    assert (result.status, result.fuel_used) == (Status.OUT_OF_FUEL, 20_000_000)
    assert result.error == "the module used up its fuel (CPU budget)"


def test_spin_with_huge_fuel_times_out(box: Sandbox, tmp_path: Path) -> None:
    limits = Limits(fuel=100_000_000_000, timeout_s=0.5)
    result = box.run(RunSpec(module=write_module(tmp_path, "spin"), limits=limits))
    assert result.status is Status.TIMEOUT
    assert result.error == "the module ran past its wall-clock timeout"


def test_spin_times_out_on_the_cold_path(box: Sandbox, tmp_path: Path) -> None:
    limits = Limits(fuel=100_000_000_000, timeout_s=0.5)
    result = supervisor.run(RunSpec(module=write_module(tmp_path, "spin"), limits=limits))
    assert result.status is Status.TIMEOUT


def test_infinite_recursion_traps_on_stack_overflow(box: Sandbox, tmp_path: Path) -> None:
    result = box.run(RunSpec(module=write_module(tmp_path, "recurse")))
    assert result.status is Status.TRAP
    assert result.error == "the module trapped: stack overflow (runaway recursion?)"


def test_memory_growth_stops_at_the_limit(box: Sandbox, tmp_path: Path) -> None:
    spec = RunSpec(module=write_module(tmp_path, "grow"), limits=Limits(memory_mb=32))
    result = box.run(spec)
    assert result.status is Status.MEMORY_LIMIT
    assert result.peak_memory_bytes == 32 * MIB


def test_large_memory_growth_stays_fast_and_bounded(box: Sandbox, tmp_path: Path) -> None:
    # Page-by-page growth to 256 MiB: memories move when they outgrow their reservation, which
    # must not turn into one copy per page (that would be a CPU bomb ending as a timeout).
    spec = RunSpec(
        module=write_module(tmp_path, "grow"),
        limits=Limits(memory_mb=256, fuel=1_000_000_000),
    )
    result = box.run(spec)
    assert result.status is Status.MEMORY_LIMIT
    assert result.peak_memory_bytes == 256 * MIB


def test_output_flood_is_cut_at_the_cap(box: Sandbox, tmp_path: Path) -> None:
    limits = Limits(fuel=100_000_000_000, max_output_kb=256)
    result = box.run(RunSpec(module=write_module(tmp_path, "flood"), limits=limits))
    assert result.status is Status.OUTPUT_LIMIT
    assert len(result.stdout) == 256 * 1024
    assert result.error == "the module wrote more than 256 KiB"


def test_run_stuck_in_a_host_call_is_killed_at_its_deadline(box: Sandbox, tmp_path: Path) -> None:
    # The epoch deadline cannot fire while the module waits in a host call; the supervisor's
    # own deadline (timeout + grace) ends the run and kills the child.
    def slow(request: bytes) -> bytes:
        time.sleep(KILL_GRACE_S + 0.5)
        return b"too late"

    spec = RunSpec(
        module=write_module(tmp_path, "hostcall"), input=b"{}", limits=Limits(timeout_s=0.1)
    )
    result = box.run(spec, slow)
    assert result.status is Status.TIMEOUT
    assert result.error == "the sandboxed child overstayed its 0.1 s timeout and was killed"
