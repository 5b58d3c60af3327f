"""Test-only attack runner: a fresh Python that hardens itself, then tries ONE attack.

Never reachable from the CLI or the host: it exists so that tests/security/test_child_*.py can
play the part of a module that has already escaped wasmtime. :func:`run_attack` starts
``python -m tests.security.child_payload`` with a JSON job on argv; the child applies the real
hardening (:func:`sandbox.harden.harden_process`, or only some layers to show what each one
stops on its own), runs the named attack and prints one JSON line:

``{"ok": true, "detail": ...}`` when the attack worked, or
``{"ok": false, "errno": "EACCES", "stage": "open", "detail": ...}`` when it was refused.

Every attack imports what it needs before hardening: after it, the child can no longer read this
test folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import mmap
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.harden import (
    HardeningPlan,
    RlimitPlan,
    harden_base,
    harden_process,
    harden_run,
    landlock,
    privileges,
    seccomp,
)
from sandbox.harden._libc import prctl
from sandbox.harden.apply import restrict_filesystem
from sandbox.spec import Enforcement

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60  # far above a normal run (~0.3 s); only a hung child gets near it
FSIZE_CAP = 1024 * 1024  # RLIMIT_FSIZE in attack plans: small, so the flood test writes little


class Refused(Exception):
    """An attack step the kernel refused: which step, and the errno."""

    def __init__(self, stage: str, err: int, detail: str = "") -> None:
        super().__init__(stage, err)
        self.stage = stage
        self.err = err
        self.detail = detail


def _step(stage: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except OSError as exc:
        raise Refused(stage, exc.errno or 0, str(exc)) from None


# ---- attacks: each takes the job's params and returns a detail when it succeeds -------------


def read_file(p: dict[str, Any]) -> Any:
    path = p["path"].replace("PPID", str(os.getppid()))
    fd = _step("open", lambda: os.open(path, os.O_RDONLY))
    return os.read(fd, 64).decode(errors="replace")


def read_fd(p: dict[str, Any]) -> Any:
    return _step("read", lambda: os.read(p["fd"], 64)).decode(errors="replace")


def write_file(p: dict[str, Any]) -> Any:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = _step("open", lambda: os.open(p["path"], flags, 0o644))
    return _step("write", lambda: os.write(fd, b"pwned"))


def write_big(p: dict[str, Any]) -> Any:
    fd = _step("open", lambda: os.open(p["path"], os.O_WRONLY | os.O_CREAT, 0o644))
    chunk = b"x" * 65536
    written = 0
    while written < p["bytes"]:
        written += _step("write", lambda: os.write(fd, chunk))
    return written


def map_memory(p: dict[str, Any]) -> Any:
    """Reserve (and touch one page of) more address space than RLIMIT_AS allows."""
    region = _step("mmap", lambda: mmap.mmap(-1, p["bytes"]))
    region[0] = 1
    return len(region)


def burn_cpu(p: dict[str, Any]) -> Any:
    while True:
        pass


def tcp_connect(p: dict[str, Any]) -> Any:
    sock = _step("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    _step("connect", lambda: sock.connect(("127.0.0.1", p["port"])))
    return "connected"


def tcp_bind(p: dict[str, Any]) -> Any:
    sock = _step("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    _step("bind", lambda: sock.bind(("127.0.0.1", 0)))
    return sock.getsockname()[1]


def udp_send(p: dict[str, Any]) -> Any:
    sock = _step("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    return _step("sendto", lambda: sock.sendto(b"leak", ("127.0.0.1", p["port"])))


def unix_connect(p: dict[str, Any]) -> Any:
    sock = _step("socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    address = "\0" + p["abstract"] if "abstract" in p else p["path"]
    _step("connect", lambda: sock.connect(address))
    return "connected"


def kill(p: dict[str, Any]) -> Any:
    pid = os.getppid() if p.get("target") == "parent" else p["pid"]
    sig = p.get("signal", signal.SIGTERM)
    _step("kill", lambda: os.kill(pid, sig))
    return pid


def prlimit_other(p: dict[str, Any]) -> Any:
    """Starve another process of descriptors by lowering its RLIMIT_NOFILE."""
    _step("prlimit", lambda: resource.prlimit(p["pid"], resource.RLIMIT_NOFILE, (3, 3)))
    return "lowered"


def renice_other(p: dict[str, Any]) -> Any:
    _step("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, p["pid"], 19))
    return "reniced"


def ptrace_parent(p: dict[str, Any]) -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    ptrace_attach = 16
    if libc.ptrace(ptrace_attach, os.getppid(), 0, 0) != 0:
        raise Refused("ptrace", ctypes.get_errno())
    return "attached"


def exec_shell(p: dict[str, Any]) -> Any:
    _step(
        "execve",
        lambda: os.execv(  # noqa: S606 (the attack)
            "/bin/sh", ["/bin/sh", "-c", "echo escaped"]
        ),
    )
    return "unreachable"


def fork_many(p: dict[str, Any]) -> Any:
    started = 0
    for _ in range(p["count"]):
        pid = _step("fork", os.fork)
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        started += 1
    return started


def spawn_shell(p: dict[str, Any]) -> Any:
    # posix_spawn path: clone3 (answers ENOSYS), then clone(CLONE_VM|CLONE_VFORK) (refused)
    _step("spawn", lambda: subprocess.run(["/bin/sh", "-c", "true"], check=False))
    return "spawned"


def capabilities(p: dict[str, Any]) -> Any:
    return privileges.capability_sets()


def setuid(p: dict[str, Any]) -> Any:
    _step("setuid", lambda: os.setuid(p["uid"]))
    return os.getuid()


def chown(p: dict[str, Any]) -> Any:
    _step("chown", lambda: os.chown(p["path"], p["uid"], p["uid"]))
    return "chowned"


def mknod(p: dict[str, Any]) -> Any:
    _step("mknod", lambda: os.mknod(p["path"], stat.S_IFCHR | 0o600, os.makedev(1, 3)))
    return "created"


def raw_socket(p: dict[str, Any]) -> Any:
    _step("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    return "raw socket"


def foreign_abi(p: dict[str, Any]) -> Any:
    """A refused call (socket) through a syscall ABI the filter was not written for."""
    libc = ctypes.CDLL(None, use_errno=True)
    if p["abi"] == "x32":
        libc.syscall.restype = ctypes.c_long
        x32_socket = 0x40000000 + 41  # __X32_SYSCALL_BIT | __NR_socket
        return libc.syscall(ctypes.c_long(x32_socket), socket.AF_INET, socket.SOCK_STREAM, 0)
    # i386 socket(AF_INET, SOCK_STREAM, 0) through int 0x80, rbx saved (callee-saved)
    code = bytes.fromhex("53b867010000bb02000000b90100000031d2cd805bc3")
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    entry = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
    return entry()


def sleep_forever(p: dict[str, Any]) -> Any:
    """Say ready (hardened, parent-death signal armed), then wait to be killed."""
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while True:
        signal.pause()


def clear_death_signal(p: dict[str, Any]) -> Any:
    """Disarm the parent-death signal, to outlive the supervisor."""
    _step("prctl", lambda: prctl(privileges.PR_SET_PDEATHSIG, 0))
    return privileges.parent_death_signal()


def make_dumpable(p: dict[str, Any]) -> Any:
    _step("prctl", lambda: prctl(privileges.PR_SET_DUMPABLE, 1))
    return "dumpable"


def tiocsti(p: dict[str, Any]) -> Any:
    """Type a command into the controlling terminal's input (set up by :func:`_own_terminal`)."""
    tty, master = p["tty"], p["master"]
    request = 0x5412 | p.get("high_bits", 0)  # TIOCSTI, possibly with junk above 32 bits
    libc = ctypes.CDLL(None, use_errno=True)
    char = ctypes.c_char(b"!")
    if libc.ioctl(tty, ctypes.c_ulong(request), ctypes.byref(char)) != 0:
        raise Refused("ioctl", ctypes.get_errno())
    return os.read(master, 16).decode()


def rename_file(p: dict[str, Any]) -> Any:
    _step("rename", lambda: os.rename(p["source"], p["target"]))
    return "moved"


def hard_link(p: dict[str, Any]) -> Any:
    _step("link", lambda: os.link(p["source"], p["target"]))
    return "linked"


def symlink_make(p: dict[str, Any]) -> Any:
    _step("symlink", lambda: os.symlink(p["target"], p["path"]))
    return "linked"


ATTACKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    f.__name__: f
    for f in (
        read_file,
        read_fd,
        write_file,
        write_big,
        map_memory,
        burn_cpu,
        tcp_connect,
        tcp_bind,
        udp_send,
        unix_connect,
        kill,
        prlimit_other,
        renice_other,
        ptrace_parent,
        exec_shell,
        fork_many,
        spawn_shell,
        capabilities,
        setuid,
        chown,
        mknod,
        raw_socket,
        symlink_make,
        rename_file,
        hard_link,
        foreign_abi,
        sleep_forever,
        clear_death_signal,
        make_dumpable,
        tiocsti,
    )
}


# ---- the child side -------------------------------------------------------------------------


def _harden(layers: str, plan: HardeningPlan) -> Enforcement:
    """``cold`` and ``warm`` are the real thing: the cold path (:func:`harden_process`) or the
    warm one (:func:`harden_base` in a zygote that forks, :func:`harden_run` in the child that
    then runs the attack, as ``sandbox/zygote.py`` does). The others apply one layer alone,
    so a test can show what
    that layer stops by itself when another would have caught the attack first:
    ``landlock`` (no_new_privs, then Landlock fs, net and scopes), ``caps`` (capabilities
    dropped, nothing else) and ``seccomp`` (no_new_privs and the base filter, all capabilities
    kept)."""
    if layers == "cold":
        return harden_process(plan)
    if layers == "warm":
        return _warm(plan)
    if layers == "seccomp":
        privileges.set_no_new_privs()
        return Enforcement(no_new_privs=True, seccomp_denied=seccomp.install_base_filter())
    if layers == "caps":
        privileges.lock_securebits()
        privileges.drop_capabilities()
        return Enforcement(capabilities_dropped=privileges.capabilities_dropped())
    if layers != "landlock":
        raise ValueError(f"unknown layers {layers!r}")
    enforcement = Enforcement(no_new_privs=privileges.set_no_new_privs())
    abi = landlock.abi_version()
    net, scoped = landlock.net_rights(abi), landlock.scopes(abi)
    landlock.Ruleset(handled_net=net, scoped=scoped).restrict_self()
    return restrict_filesystem(plan, enforcement)


def _warm(plan: HardeningPlan) -> Enforcement:
    base = harden_base(plan.model_copy(update={"ro_paths": (), "rw_paths": ()}))
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        return harden_run(plan, base, expected_parent=zygote)
    # The zygote ends the way its run child did, so run_attack sees the child's fate.
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(zygote, sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _own_terminal(plan: HardeningPlan, params: dict[str, Any]) -> HardeningPlan:
    """Become a session leader with a fresh pty as controlling terminal (as a child started
    from the user's shell shares theirs); the two ends are kept through the descriptor purge."""
    os.setsid()
    master, tty = os.openpty()
    tiocsctty = 0x540E
    fcntl.ioctl(tty, tiocsctty, 0)
    params.update(tty=tty, master=master)
    return plan.model_copy(update={"keep_fds": (*plan.keep_fds, tty, master)})


def child_main(job: dict[str, Any]) -> dict[str, Any]:
    plan = HardeningPlan.model_validate(job["plan"])
    attack = ATTACKS[job["attack"]]
    if job["attack"] == "tiocsti":
        plan = _own_terminal(plan, job["params"])
    enforcement = _harden(job["layers"], plan)
    try:
        detail = attack(job.get("params", {}))
    except Refused as refused:
        return {
            "ok": False,
            "errno": errno.errorcode.get(refused.err, str(refused.err)),
            "stage": refused.stage,
            "detail": refused.detail,
            "enforcement": enforcement.model_dump(),
        }
    return {"ok": True, "detail": detail, "enforcement": enforcement.model_dump()}


PATHS = ("cold", "warm")  # the two real hardening paths every attack is run through


# ---- the test side --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grants:
    """A plan like the supervisor's: one ro and one rw grant, plus a secret outside both."""

    ro: Path
    rw: Path
    secret_dir: Path
    secret: Path

    def plan(self, **rlimits: int) -> HardeningPlan:
        return HardeningPlan(
            ro_paths=(self.ro,),
            rw_paths=(self.rw,),
            rlimits=RlimitPlan(file_size_bytes=FSIZE_CAP, **rlimits),
        )


def make_grants(tmp_path: Path) -> Grants:
    """Create the ro grant (with a file), the rw grant and a secret file in a third directory."""
    ro, rw, secret_dir = tmp_path / "ro", tmp_path / "rw", tmp_path / "secret"
    for d in (ro, rw, secret_dir):
        d.mkdir()
    (ro / "readme.txt").write_text("public")
    secret = secret_dir / "api-key.txt"
    secret.write_text("sk-do-not-leak")
    return Grants(ro=ro, rw=rw, secret_dir=secret_dir, secret=secret)


def run_attack(
    attack: str,
    plan: HardeningPlan,
    params: dict[str, Any] | None = None,
    *,
    layers: str,
    pass_fds: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Run ``attack`` in a freshly hardened child; returns its JSON verdict.

    ``pass_fds`` are inherited by the child (and not in the plan's ``keep_fds``), like a
    descriptor a careless parent leaked.

    A child killed by a signal yields ``{"ok": False, "signal": "SIGKILL", ...}``.
    """
    job = {"attack": attack, "plan": plan.model_dump(mode="json"), "params": params or {}}
    job["layers"] = layers
    proc = subprocess.run(
        [sys.executable, "-m", "tests.security.child_payload", json.dumps(job)],
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        pass_fds=pass_fds,
    )
    if proc.returncode < 0:
        return {"ok": False, "signal": signal.Signals(-proc.returncode).name}
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"payload failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _command(job: dict[str, Any], *mode: str) -> list[str]:
    return [sys.executable, "-m", "tests.security.child_payload", *mode, json.dumps(job)]


def orphan_verdict(plan: HardeningPlan, *, layers: str) -> dict[str, Any]:
    """Kill a hardened child's parent and report how the child ended.

    Three processes: this helper's child (a subreaper, so the orphan is reparented to it and can
    be reaped), a middle process (the parent to kill), and the hardened child (on the warm path,
    the middle's child is the zygote: its own death signal must cascade to the run child). Returns
    ``{"child_signal": "SIGKILL"}`` when the parent-death signal worked.
    """
    job = {"attack": "sleep_forever", "plan": plan.model_dump(mode="json"), "layers": layers}
    job["params"] = {}
    proc = subprocess.run(
        _command(job, "--subreaper"),
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"subreaper failed: {proc.stderr.decode()[-2000:]}")
    verdict: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return verdict


def _subreaper(job: dict[str, Any]) -> dict[str, Any]:
    pr_set_child_subreaper = 36
    prctl(pr_set_child_subreaper, 1)
    middle = subprocess.Popen(_command(job, "--middle"), cwd=REPO, stdout=subprocess.PIPE)
    assert middle.stdout is not None
    child = json.loads(middle.stdout.readline())["ready"]
    middle.kill()
    middle.wait()
    # The orphan is ours now; a missing parent-death signal would leave it paused for ever,
    # so bound the wait and kill it ourselves (then it reports SIGTERM, not SIGKILL).
    deadline = RUN_TIMEOUT_S / 4
    waited = 0.0
    while True:
        try:
            pid, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pid = 0  # warm path: not reparented to us until its zygote has died too
        if pid:
            break
        if waited > deadline:
            os.kill(child, signal.SIGTERM)
            time.sleep(0.5)
            _, status = os.waitpid(child, 0)
            break
        time.sleep(0.05)
        waited += 0.05
    if os.WIFSIGNALED(status):
        return {"child_signal": signal.Signals(os.WTERMSIG(status)).name}
    return {"child_exit": os.WEXITSTATUS(status)}


def _middle(job: dict[str, Any]) -> None:
    subprocess.Popen(_command(job), cwd=REPO)  # shares our stdout: its "ready" line goes up
    signal.pause()


def run_snippet(code: str, *, pass_fds: tuple[int, ...] = ()) -> Any:
    """Run ``code`` in a fresh interpreter and return the JSON value it leaves in ``result``.

    For unit tests of single layers: hardening is irreversible, so it never runs in pytest's own
    process. An exception in the snippet is returned as ``{"raised": type, "message": str}``.
    """
    wrapper = (
        "import json, os, sys\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except Exception as exc:\n"
        "    result = {'raised': type(exc).__name__, 'message': str(exc)}\n"
        "print(json.dumps(result, default=str), flush=True)\n"
        "os._exit(0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        pass_fds=pass_fds,
    )
    if proc.returncode != 0:
        raise AssertionError(f"snippet failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def supported(abi: int) -> bool:
    """Whether this kernel's Landlock ABI is at least ``abi``."""
    return landlock.abi_version() >= abi


if __name__ == "__main__":
    if sys.argv[1] == "--subreaper":
        print(json.dumps(_subreaper(json.loads(sys.argv[2]))), flush=True)
        sys.exit(0)
    if sys.argv[1] == "--middle":
        _middle(json.loads(sys.argv[2]))
    _verdict = child_main(json.loads(sys.argv[1]))
    print(json.dumps(_verdict, default=str), flush=True)
    os._exit(0)  # no atexit handlers: they might touch files the sandbox now refuses
