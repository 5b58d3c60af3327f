"""Real modules through the real hardened child, on the cold path and on the warm path."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from host.errors import ModuleError, SandboxError
from sandbox import supervisor
from sandbox.cache import ModuleCache
from sandbox.processes import Zygote
from sandbox.spec import Limits, Preopen, RunResult, RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, descendants, stray_processes, write_module

__all__ = ["box"]

Runner = Callable[[RunSpec], RunResult]


@pytest.fixture(params=["cold", "warm"])
def runner(request: pytest.FixtureRequest, box: Sandbox) -> Runner:
    """Each test here runs once per path."""
    if request.param == "cold":
        return supervisor.run
    return box.run


def test_hello(runner: Runner, tmp_path: Path) -> None:
    result = runner(RunSpec(module=write_module(tmp_path, "hello")))
    assert (result.status, result.exit_code, result.stdout, result.error) == (
        Status.OK,
        0,
        "hello, world\n",
        None,
    )
    assert (
        result.module_sha256 == hashlib.sha256((tmp_path / "hello.wasm").read_bytes()).hexdigest()
    )
    assert result.enforcement.no_new_privs is True
    assert result.enforcement.seccomp is True


def test_echo_stdin_to_stdout(runner: Runner, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: more than a pipe buffer, not valid UTF-8
    result = runner(RunSpec(module=write_module(tmp_path, "echo"), input=data))
    assert result.status is Status.OK
    assert result.stdout == data.decode("utf-8", errors="replace")


def test_args_and_exactly_the_given_env(runner: Runner, tmp_path: Path) -> None:
    spec = RunSpec(
        module=write_module(tmp_path, "args_env"),
        args=("one", "two words"),
        env=(("LANG", "C"), ("SKILL_MODE", "test")),
    )
    result = runner(spec)
    assert result.stdout == (
        "arg args_env.wasm\narg one\narg two words\nenv LANG=C\nenv SKILL_MODE=test\n"
    )


def test_exit_code_and_stderr(runner: Runner, tmp_path: Path) -> None:
    result = runner(RunSpec(module=write_module(tmp_path, "exit")))
    assert (result.status, result.exit_code, result.stderr) == (
        Status.EXIT_NONZERO,
        3,
        "failing on purpose\n",
    )


def test_read_a_file_in_a_read_only_preopen(runner: Runner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "note.txt").write_text("granted contents\n")
    spec = RunSpec(
        module=write_module(tmp_path, "fs"),
        args=("read", "note.txt"),
        dirs=(Preopen(host_path=data, guest_path="/data"),),
    )
    result = runner(spec)
    assert (result.status, result.stdout) == (Status.OK, "granted contents\n")


def test_write_a_file_in_a_read_write_preopen(runner: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spec = RunSpec(
        module=write_module(tmp_path, "fs"),
        args=("write", "result.txt"),
        input=b"written by the module\n",
        dirs=(Preopen(host_path=out, guest_path="/out", access="rw"),),
    )
    result = runner(spec)
    assert result.status is Status.OK
    assert (out / "result.txt").read_bytes() == b"written by the module\n"


def test_write_refused_in_a_read_only_preopen(runner: Runner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    spec = RunSpec(
        module=write_module(tmp_path, "fs"),
        args=("write", "new.txt"),
        dirs=(Preopen(host_path=data, guest_path="/data"),),
    )
    result = runner(spec)
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")  # EPERM
    assert list(data.iterdir()) == []


def test_matching_digest_runs(runner: Runner, tmp_path: Path) -> None:
    module = write_module(tmp_path, "hello")
    digest = hashlib.sha256(module.read_bytes()).hexdigest()
    assert runner(RunSpec(module=module, expected_sha256=digest)).status is Status.OK


def test_missing_module_is_a_module_error(runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(ModuleError, match=r"module .*absent.wasm does not exist"):
        runner(RunSpec(module=tmp_path / "absent.wasm"))


def test_missing_grant_is_refused_before_running(runner: Runner, tmp_path: Path) -> None:
    spec = RunSpec(
        module=write_module(tmp_path, "hello"),
        dirs=(Preopen(host_path=tmp_path / "gone", guest_path="/data"),),
    )
    with pytest.raises(SandboxError, match=r"granted directory .*gone does not exist"):
        runner(spec)


def test_cold_run_leaves_no_process(box: Sandbox, tmp_path: Path) -> None:
    assert supervisor.run(RunSpec(module=write_module(tmp_path, "hello"))).status is Status.OK
    assert stray_processes() == set()


def test_compiled_module_is_cached_then_reused(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path / "cache")
    module = write_module(tmp_path, "hello")
    first = supervisor.run(RunSpec(module=module), cache=cache)
    entry = cache.path_for(first.module_sha256 or "")
    assert entry.is_file()
    stamp = entry.stat().st_mtime_ns
    second = supervisor.run(RunSpec(module=module), cache=cache)
    assert second.status is Status.OK
    assert entry.stat().st_mtime_ns == stamp  # loaded, not rewritten


def test_crashed_zygote_is_replaced(tmp_path: Path) -> None:
    with Sandbox(zygotes=1, use_cache=False) as sandbox:
        (old,) = sandbox.pids()
        os.kill(old, signal.SIGKILL)
        result = sandbox.run(RunSpec(module=write_module(tmp_path, "hello")))
        assert result.status is Status.OK
        (new,) = sandbox.pids()
        assert new != old


def test_warm_runs_leave_only_the_zygote(box: Sandbox, tmp_path: Path) -> None:
    module = write_module(tmp_path, "hello")
    for _ in range(3):
        assert box.run(RunSpec(module=module)).status is Status.OK
    assert stray_processes() == set()
    (zygote,) = box.pids()
    assert len(descendants(zygote)) <= 1  # at most the spare forked for the next run


def test_zygotes_are_pinned_round_robin_to_allowed_cpus(tmp_path: Path) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    with Sandbox(zygotes=len(allowed) + 1, use_cache=False) as sandbox:
        pinned = sorted(sorted(os.sched_getaffinity(pid)) for pid in sandbox.pids())
        # One zygote per CPU, and the extra one wraps around to the first CPU.
        assert pinned == sorted([[cpu] for cpu in allowed] + [[allowed[0]]])
        result = sandbox.run(RunSpec(module=write_module(tmp_path, "hello")))
        assert result.status is Status.OK


def test_pinning_can_be_left_to_the_scheduler() -> None:
    allowed = os.sched_getaffinity(0)
    with Sandbox(zygotes=1, use_cache=False, pin_cpus=False) as sandbox:
        (zygote,) = sandbox.pids()
        assert os.sched_getaffinity(zygote) == allowed


def test_a_zygote_pinned_to_a_missing_cpu_still_starts() -> None:
    zygote = Zygote(cpu=4095)  # no such CPU here: placement falls back to the scheduler
    try:
        assert os.sched_getaffinity(zygote.proc.pid) == os.sched_getaffinity(0)
    finally:
        zygote.close()


def test_closed_sandbox_refuses(tmp_path: Path) -> None:
    sandbox = Sandbox(zygotes=1)
    sandbox.close()
    with pytest.raises(SandboxError, match="this sandbox is closed"):
        sandbox.run(RunSpec(module=write_module(tmp_path, "hello")))


def test_limits_reach_the_child(runner: Runner, tmp_path: Path) -> None:
    spec = RunSpec(module=write_module(tmp_path, "spin"), limits=Limits(fuel=5_000_000))
    result = runner(spec)
    assert (result.status, result.fuel_used) == (Status.OUT_OF_FUEL, 5_000_000)


def test_concurrent_warm_runs_from_threads(box: Sandbox, tmp_path: Path) -> None:
    module = write_module(tmp_path, "args_env")
    with Sandbox(zygotes=2, use_cache=False) as sandbox:
        with ThreadPoolExecutor(max_workers=4) as pool:
            specs = [RunSpec(module=module, args=(str(i),)) for i in range(8)]
            results = list(pool.map(sandbox.run, specs))
        assert [r.stdout for r in results] == [f"arg args_env.wasm\narg {i}\n" for i in range(8)]
        assert stray_processes() == set()


def test_usable_from_asyncio(box: Sandbox, tmp_path: Path) -> None:
    spec = RunSpec(module=write_module(tmp_path, "hello"))

    async def main() -> list[RunResult]:
        return list(await asyncio.gather(*(asyncio.to_thread(box.run, spec) for _ in range(3))))

    assert [r.status for r in asyncio.run(main())] == [Status.OK] * 3
