"""The attacks a module that escaped wasmtime would try, one function each.

Each takes the job's params and returns a detail when it succeeds, or raises :class:`Refused`
naming the step the kernel refused and the errno. They run in the hardened child, so they use
only modules imported before hardening.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import resource
import signal
import socket
import stat
import subprocess
from collections.abc import Callable
from typing import Any

from sandbox.harden import privileges
from sandbox.harden._libc import prctl, syscall


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


def pidfd_signal(p: dict[str, Any]) -> Any:
    """Signal through a pidfd (pidfd_open + pidfd_send_signal) instead of kill()."""
    fd = _step("pidfd_open", lambda: os.pidfd_open(p["pid"]))
    _step("pidfd_send_signal", lambda: signal.pidfd_send_signal(fd, p["signal"]))
    return "sent"


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
    """Disarm the parent-death signal, to outlive the supervisor.

    With ``high_bits``, the raw system call carries junk above the int-sized option, which the
    kernel ignores (x86_64 only: prctl is system call 157 there).
    """
    option = privileges.PR_SET_PDEATHSIG | p.get("high_bits", 0)
    _step("prctl", lambda: syscall(157, option, 0, 0, 0, 0))
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
        pidfd_signal,
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
