"""Attacks on what a run might inherit from the host: descriptors and environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import supervisor
from sandbox.spec import RunResult, RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, stray_processes, write_module

__all__ = ["box"]

EBADF = 8
HOST_SECRET = "AIRLOCK_TEST_API_KEY"


@pytest.fixture(params=["cold", "warm"])
def runner(
    request: pytest.FixtureRequest, box: Sandbox
) -> Iterator[Callable[[RunSpec], RunResult]]:
    yield supervisor.run if request.param == "cold" else box.run
    assert stray_processes() == set(), "a sandbox process outlived its run"


def test_descriptors_3_to_10_and_the_pipes_are_unreachable(
    runner: Callable[[RunSpec], RunResult], tmp_path: Path
) -> None:
    result = runner(RunSpec(module=write_module(tmp_path, "fds")))
    assert result.status is Status.OK
    expected = "".join(f"fd {fd} write {EBADF} read {EBADF}\n" for fd in range(3, 11))
    assert result.stdout == expected


def test_host_environment_secret_is_invisible(
    runner: Callable[[RunSpec], RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOST_SECRET, "sk-live-do-not-leak")
    spec = RunSpec(module=write_module(tmp_path, "args_env"), env=(("GRANTED", "yes"),))
    result = runner(spec)
    assert result.status is Status.OK
    assert result.stdout == "arg args_env.wasm\nenv GRANTED=yes\n"
    assert "sk-live" not in result.stdout + result.stderr
