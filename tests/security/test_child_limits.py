"""A module that escaped wasmtime tries to exhaust the machine through its own grant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.child_payload import FSIZE_CAP, PATHS, make_grants, run_attack


@pytest.fixture(params=PATHS)
def hardening(request: pytest.FixtureRequest) -> str:
    """Each attack runs against the cold path and the warm (zygote) path."""
    return str(request.param)


def test_child_cannot_write_past_file_size_limit(tmp_path: Path, hardening: str) -> None:
    # Python ignores SIGXFSZ, so the write that crosses RLIMIT_FSIZE fails with EFBIG (a Wasm
    # runtime sees the same errno); without that, the default action would kill the process.
    g = make_grants(tmp_path)
    target = g.rw / "flood.bin"
    verdict = run_attack(
        "write_big", g.plan(), {"path": str(target), "bytes": 4 * FSIZE_CAP}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EFBIG", "write")
    assert target.stat().st_size == FSIZE_CAP


def test_child_limits_are_reported_as_enforced(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack(
        "write_file", g.plan(open_files=32), {"path": str(g.rw / "x")}, layers=hardening
    )
    assert verdict["enforcement"]["rlimits"] == {
        "as": g.plan().rlimits.address_space_bytes,
        "cpu": g.plan().rlimits.cpu_seconds,
        "nofile": 32,
        "nproc": g.plan().rlimits.processes,
        "fsize": FSIZE_CAP,
        "core": 0,
    }


def test_child_cannot_map_memory_past_address_space_limit(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    plan = g.plan(address_space_bytes=1 << 30)
    verdict = run_attack("map_memory", plan, {"bytes": 2 << 30}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "ENOMEM", "mmap")


def test_child_burning_cpu_is_killed_at_its_cpu_limit(tmp_path: Path) -> None:
    # Soft = hard: the kernel's SIGKILL at the hard limit wins over SIGXCPU (which a process
    # could catch). One CPU second, on the cold path only, to keep the suite quick.
    plan = make_grants(tmp_path).plan(cpu_seconds=1)
    verdict = run_attack("burn_cpu", plan, layers="cold")
    assert verdict == {"ok": False, "signal": "SIGKILL"}
