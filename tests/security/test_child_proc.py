"""A module that escaped wasmtime turns on other processes and on its own privileges."""

from __future__ import annotations

import os
import platform
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.info import probe
from tests.security.child_payload import PATHS, make_grants, orphan_verdict, run_attack, supported

pytestmark = [
    pytest.mark.seccomp,
    pytest.mark.skipif(not probe().seccomp_filter, reason="kernel has no seccomp filter mode"),
]
needs_scope = pytest.mark.skipif(not supported(6), reason="Landlock ABI < 6: no signal scope")
BLOCK_SIGURG_AND_WAIT = (
    "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGURG}); "
    "print('ready', flush=True); time.sleep(60)"
)


def _sigurg_pending(pid: int) -> bool:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    pending = int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)
    return bool(pending & (1 << (signal.SIGURG - 1)))


@pytest.fixture(params=PATHS)
def hardening(request: pytest.FixtureRequest) -> str:
    """Each attack runs against the cold path and the warm (zygote) path."""
    return str(request.param)


@needs_scope
def test_child_cannot_signal_its_parent(tmp_path: Path, hardening: str) -> None:
    # The parent here is the payload's interpreter-starting test process; it must survive.
    verdict = run_attack(
        "kill", make_grants(tmp_path).plan(), {"target": "parent"}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "kill")


@needs_scope
def test_child_cannot_signal_unrelated_process(tmp_path: Path, hardening: str) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        verdict = run_attack(
            "kill", make_grants(tmp_path).plan(), {"pid": bystander.pid}, layers=hardening
        )
        assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "kill")
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@needs_scope
@pytest.mark.parametrize("target", [-1, 0])
def test_child_cannot_signal_every_process_or_its_group(
    tmp_path: Path, hardening: str, target: int
) -> None:
    # kill(-1) reaches every process the caller may signal (as uid 0: all of root's), kill(0)
    # the caller's process group (the test runner's too). The probe is SIGURG, ignored by
    # default, so a regression cannot take the machine down; the bystander blocks it, so a
    # delivered SIGURG stays visible as pending in /proc/<pid>/status.
    bystander = subprocess.Popen(
        [sys.executable, "-c", BLOCK_SIGURG_AND_WAIT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert bystander.stdout is not None
        assert bystander.stdout.readline() == "ready\n"
        params = {"pid": target, "signal": int(signal.SIGURG)}
        run_attack("kill", make_grants(tmp_path).plan(), params, layers=hardening)
        # kill(-1) reports success even when every target refused, so judge by the victim.
        assert not _sigurg_pending(bystander.pid)
        os.kill(bystander.pid, signal.SIGURG)  # the probe itself works
        assert _sigurg_pending(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


@needs_scope
def test_child_cannot_signal_through_a_pidfd(tmp_path: Path, hardening: str) -> None:
    bystander = subprocess.Popen(
        [sys.executable, "-c", BLOCK_SIGURG_AND_WAIT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert bystander.stdout is not None
        assert bystander.stdout.readline() == "ready\n"
        params = {"pid": bystander.pid, "signal": int(signal.SIGURG)}
        verdict = run_attack("pidfd_signal", make_grants(tmp_path).plan(), params, layers=hardening)
        assert (verdict["ok"], verdict["errno"]) == (False, "EPERM")
        assert verdict["stage"] == "pidfd_send_signal"
        assert not _sigurg_pending(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("layers", ["cold", "warm", "seccomp"])
def test_child_cannot_lower_another_process_limits(tmp_path: Path, layers: str) -> None:
    # The kernel lets a process change the rlimits of any process of its uid, and no Landlock
    # scope covers prlimit: without the seccomp rule a child could starve its supervisor.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        plan = make_grants(tmp_path).plan()
        verdict = run_attack("prlimit_other", plan, {"pid": bystander.pid}, layers=layers)
        assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "prlimit")
        limits = resource.prlimit(bystander.pid, resource.RLIMIT_NOFILE)
        assert limits == resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("layers", ["cold", "warm", "seccomp"])
def test_child_cannot_renice_another_process(tmp_path: Path, layers: str) -> None:
    # Dropped capabilities stop this against a privileged target, but not against a supervisor
    # running unprivileged; "seccomp" keeps every capability to show the filter holds alone.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        plan = make_grants(tmp_path).plan()
        verdict = run_attack("renice_other", plan, {"pid": bystander.pid}, layers=layers)
        assert (verdict["ok"], verdict["errno"]) == (False, "EPERM")
        assert verdict["stage"] == "setpriority"
        assert os.getpriority(os.PRIO_PROCESS, bystander.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        bystander.kill()
        bystander.wait()


def test_child_cannot_ptrace_its_parent(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("ptrace_parent", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "ptrace")


@pytest.mark.landlock
@pytest.mark.skipif(not supported(1), reason="kernel has no Landlock")
def test_child_ptrace_refused_by_landlock_alone(tmp_path: Path) -> None:
    # Behind seccomp's ptrace rule: a Landlock domain may never trace a process outside it.
    verdict = run_attack("ptrace_parent", make_grants(tmp_path).plan(), layers="landlock")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "ptrace")


def test_child_cannot_exec_shell(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("exec_shell", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "execve")


def test_child_cannot_fork_past_process_limit(tmp_path: Path, hardening: str) -> None:
    # The limit for a run child is zero new processes: the very first fork is refused by the
    # run seccomp filter (RLIMIT_NPROC would not hold uid 0 back at all).
    verdict = run_attack("fork_many", make_grants(tmp_path).plan(), {"count": 50}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "fork")


def test_child_cannot_spawn_through_posix_spawn(tmp_path: Path, hardening: str) -> None:
    # subprocess uses vfork/clone3 paths, not fork(): clone3 answers ENOSYS, then glibc's
    # clone(CLONE_VM | CLONE_VFORK) fallback is refused.
    verdict = run_attack("spawn_shell", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "spawn")


def test_child_holds_no_capability(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("capabilities", make_grants(tmp_path).plan(), layers=hardening)
    assert verdict["ok"] is True
    assert verdict["detail"] == {
        "effective": 0,
        "permitted": 0,
        "inheritable": 0,
        "bounding": 0,
        "ambient": 0,
    }


def test_child_cannot_change_uid(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("setuid", make_grants(tmp_path).plan(), {"uid": 65534}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "setuid")


def test_child_cannot_chown_in_its_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    (g.rw / "mine.txt").write_text("x")
    verdict = run_attack(
        "chown", g.plan(), {"path": str(g.rw / "mine.txt"), "uid": 65534}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "chown")
    assert (g.rw / "mine.txt").stat().st_uid == os.getuid()


def test_child_cannot_make_device_node(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack("mknod", g.plan(), {"path": str(g.rw / "mem")}, layers=hardening)
    # Landlock refuses first (no MAKE_CHAR in any grant)...
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "mknod")
    # ...and with capabilities dropped alone, CAP_MKNOD is missing.
    alone = run_attack("mknod", g.plan(), {"path": str(g.rw / "mem")}, layers="caps")
    assert (alone["ok"], alone["errno"], alone["stage"]) == (False, "EPERM", "mknod")
    assert not (g.rw / "mem").exists()


def test_child_raw_socket_refused_by_dropped_capabilities_alone(tmp_path: Path) -> None:
    verdict = run_attack("raw_socket", make_grants(tmp_path).plan(), layers="caps")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="uses the x86_64 prctl number")
@pytest.mark.parametrize("high_bits", [0, 1 << 32])
def test_child_cannot_disarm_its_parent_death_signal(
    tmp_path: Path, hardening: str, high_bits: int
) -> None:
    plan = make_grants(tmp_path).plan()
    params = {"high_bits": high_bits}
    verdict = run_attack("clear_death_signal", plan, params, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "prctl")


def test_child_cannot_make_itself_dumpable(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("make_dumpable", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "prctl")


@pytest.mark.parametrize("high_bits", [0, 1 << 32])
def test_child_cannot_type_into_its_terminal(
    tmp_path: Path, hardening: str, high_bits: int
) -> None:
    # With the user's terminal as controlling tty, TIOCSTI would queue input for their shell
    # (dev.tty.legacy_tiocsti=1 allows it without any capability). Junk above the low 32 bits
    # is ignored by the kernel, so it must not get past the filter either.
    plan = make_grants(tmp_path).plan()
    params = {"high_bits": high_bits}
    verdict = run_attack("tiocsti", plan, params, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "ioctl")


def test_child_is_killed_when_its_parent_dies(tmp_path: Path, hardening: str) -> None:
    assert orphan_verdict(make_grants(tmp_path).plan(), layers=hardening) == {
        "child_signal": "SIGKILL"
    }


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the i386 and x32 ABIs are x86_64's")
@pytest.mark.parametrize("abi", ["i386", "x32"])
def test_child_foreign_syscall_abi_is_killed(tmp_path: Path, abi: str, hardening: str) -> None:
    # The filter is written for x86_64 numbers; a refused call through int 0x80 or the x32
    # numbering would slip past a naive filter, so any foreign-ABI call kills the process.
    verdict = run_attack(
        "foreign_abi", make_grants(tmp_path).plan(), {"abi": abi}, layers=hardening
    )
    assert verdict == {"ok": False, "signal": signal.Signals.SIGSYS.name}
