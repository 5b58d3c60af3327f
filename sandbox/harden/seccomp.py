"""Seccomp filters: refuse the system calls a Wasm runtime never makes.

Two filters, both "default allow, refuse a named list" (an allow-list would break on every new
glibc or wasmtime release, and Landlock already confines what the allowed calls can reach):

* the **base filter** (:func:`install_base_filter`), loaded by :func:`sandbox.harden.harden_base`:
  debugging other processes, mounting, namespaces, BPF, kernel keyrings, perf, module loading,
  kexec, userfaultfd, io_uring, personality, exec, and every socket. ``clone3`` answers ENOSYS
  (its flags live in memory a filter cannot read; glibc then falls back to ``clone``), and
  ``clone`` with a namespace flag is refused. Fork stays possible, because the warm zygote that
  runs under this filter forks one child per run.
* the **run filter** (:func:`install_run_filter`), loaded in each run child: ``fork``,
  ``vfork`` and ``clone`` without CLONE_THREAD are refused, so threads still start but no new
  process can (RLIMIT_NPROC cannot do this job: it is not enforced for uid 0 at all and counts
  every task of the uid machine-wide otherwise); and the child can no longer disarm its
  parent-death signal or make itself dumpable again.

Filters stack (the kernel runs all and the strictest answer wins), need no_new_privs, and are
synchronised to every thread (TSYNC). Calls from a foreign ABI (int 0x80, x32) kill the process.

Compiling and loading are apart. libseccomp (through pyseccomp) generates the BPF programs in
the supervisor (:mod:`sandbox.harden.seccomp_build`, once per process), which hands them to each
sandbox process in a sealed memfd (:class:`FilterSet`); the sandbox process only loads them, with
one seccomp(2) call each (:func:`load_program`). So neither a cold child nor a zygote imports
pyseccomp: about 16 ms of a cold start (it loads ctypes.util, subprocess and tempfile, and runs
ldconfig to find libseccomp) and a tenth of the memory every warm run child copies on write.
The lists of what each filter refuses stay here, next to what loads them.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
from dataclasses import dataclass

from host.errors import HardeningError
from sandbox.harden._libc import syscall

# Refused with EPERM by the base filter, grouped by what they would give an attacker.
BASE_DENIED: tuple[str, ...] = (
    # reading or writing another process's memory
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    # changing the filesystem view
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # namespaces: new user namespaces bring capabilities back inside them
    "unshare",
    "setns",
    # large kernel attack surfaces no Wasm runtime uses
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "personality",
    # opening files by handle bypasses path-based checks
    "open_by_handle_at",
    # nothing is exec'd after hardening
    "execve",
    "execveat",
    # the child talks to its parent over inherited pipes only; Landlock does not cover UDP or
    # pathname unix sockets, so no socket may be created at all
    "socket",
    "socketpair",
)

# Calls that act on another process named by a pid argument (index given), which the kernel
# allows within the same uid and no Landlock scope covers: lowering the supervisor's rlimits
# (prlimit64 needs no capability at all), or starving it of CPU and I/O (the scheduling calls
# need the target's capabilities to be a subset of ours: true when the host runs unprivileged).
# Pid 0, the caller itself, stays allowed (glibc's setrlimit is prlimit64(0, ...)).
OTHER_PROCESS_CALLS: tuple[tuple[str, int], ...] = (
    ("prlimit64", 0),
    ("setpriority", 1),
    ("ioprio_set", 1),
    ("sched_setaffinity", 0),
    ("sched_setscheduler", 0),
    ("sched_setparam", 0),
    ("sched_setattr", 0),
)
# ...and for the two with a "which" selector, only "this process" (a process group or a user
# would reach the supervisor too): PRIO_PROCESS is 0, IOPRIO_WHO_PROCESS is 1.
ONLY_WHICH_PROCESS: tuple[tuple[str, int], ...] = (("setpriority", 0), ("ioprio_set", 1))

# ioctl requests that act on a terminal beyond its own output: TIOCSTI pushes bytes into the
# terminal's input queue (a child that inherited the user's terminal as stdio could type
# commands into their shell; allowed for the controlling terminal when dev.tty.legacy_tiocsti is
# 1), TIOCLINUX drives the Linux console. The request is compared on its low 32 bits, as the
# kernel reads it, so high garbage bits cannot slip past.
TTY_IOCTLS_DENIED: tuple[tuple[str, int], ...] = (("TIOCSTI", 0x5412), ("TIOCLINUX", 0x541C))

RUN_DENIED: tuple[str, ...] = ("fork", "vfork")
# prctl options the run child may no longer use: both were set by harden_run just before.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

CLONE_THREAD = 0x00010000
# Every clone flag that creates a namespace (CLONE_NEWTIME shares its bit with the exit signal
# in clone(2) and is only accepted by clone3 and unshare, both refused).
CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


def kernel_actions() -> list[str]:
    """The filter actions this kernel supports (empty when seccomp filter mode is missing)."""
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as avail:
            return avail.read().split()
    except OSError:
        return []


def available() -> bool:
    """Whether the kernel supports filter mode with the errno action this module uses."""
    return "errno" in kernel_actions()


SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
# struct sock_filter: u16 code, u8 jt, u8 jf, u32 k.
BPF_INSTRUCTION_BYTES = 8
# The kernel's BPF_MAXINSNS for a classic filter; a longer program is refused with EINVAL.
MAX_PROGRAM_INSTRUCTIONS = 4096


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


@dataclass(frozen=True)
class Program:
    """A compiled filter: classic BPF for the native architecture, and what it refuses.

    ``syscall`` is the number of seccomp(2) on this architecture (resolved where the program was
    compiled, by libseccomp), so loading needs nothing but the bytes.
    """

    bpf: bytes
    denied: tuple[str, ...]
    syscall: int

    def __post_init__(self) -> None:
        count, rest = divmod(len(self.bpf), BPF_INSTRUCTION_BYTES)
        if rest or not 0 < count <= MAX_PROGRAM_INSTRUCTIONS:
            raise HardeningError(f"a malformed seccomp filter ({len(self.bpf)} bytes of BPF)")
        if self.syscall <= 0:
            raise HardeningError(f"seccomp(2) cannot be number {self.syscall}")


@dataclass(frozen=True)
class FilterSet:
    """Both filters, as the supervisor hands them to a sandbox process."""

    base: Program
    run: Program

    # A handful of rules compile to a few hundred bytes; this bounds what a reader accepts.
    MAX_BYTES = 256 * 1024

    def to_bytes(self) -> bytes:
        """The wire form: JSON, the BPF in base64."""
        return json.dumps({name: _program_fields(p) for name, p in vars(self).items()}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> FilterSet:
        """Parse :meth:`to_bytes`; :class:`HardeningError` for anything else."""
        try:
            fields = json.loads(data)
            return cls(base=_program(fields["base"]), run=_program(fields["run"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise HardeningError(f"the seccomp filters handed over are malformed ({exc})") from None

    @classmethod
    def read_from(cls, fd: int) -> FilterSet:
        """Read a set from the start of ``fd`` (the supervisor's memfd) and close ``fd``."""
        try:
            data = os.pread(fd, cls.MAX_BYTES + 1, 0)
        finally:
            os.close(fd)
        if len(data) > cls.MAX_BYTES:
            raise HardeningError(f"the seccomp filters handed over exceed {cls.MAX_BYTES} bytes")
        return cls.from_bytes(data)


def _program_fields(program: Program) -> dict[str, object]:
    return {
        "bpf": base64.b64encode(program.bpf).decode("ascii"),
        "denied": list(program.denied),
        "syscall": program.syscall,
    }


def _program(fields: dict[str, object]) -> Program:
    bpf, denied, number = fields["bpf"], fields["denied"], fields["syscall"]
    if not (isinstance(bpf, str) and isinstance(denied, list) and type(number) is int):
        raise TypeError("bpf, denied or syscall has the wrong type")
    if not all(isinstance(name, str) for name in denied):
        raise TypeError("denied holds a non-string")
    return Program(base64.b64decode(bpf, validate=True), tuple(denied), number)


class Loader:
    """The kernel's view of a program, built now; calling it loads the program (one syscall).

    Loading does what libseccomp's own load does for our filters (no_new_privs is already set
    by harden_base), minus compiling: ``seccomp(SET_MODE_FILTER, TSYNC, prog)``, synchronised
    to every thread; it returns the program's report. A warm spare builds its loader while it
    waits, so its run only makes the call.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self._buffer = ctypes.create_string_buffer(program.bpf, len(program.bpf))
        count = len(program.bpf) // BPF_INSTRUCTION_BYTES
        self._fprog = _SockFprog(count, ctypes.addressof(self._buffer))  # points into _buffer

    def __call__(self) -> list[str]:
        flags = SECCOMP_FILTER_FLAG_TSYNC
        number = self.program.syscall
        failed = syscall(number, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(self._fprog))
        if failed:  # with TSYNC, a positive result names a thread that could not follow
            raise HardeningError(f"seccomp could not synchronise thread {failed}")
        return list(self.program.denied)


def load_program(program: Program) -> list[str]:
    """Load ``program`` into this process now (see :class:`Loader`); returns its report."""
    return Loader(program)()


def compile_run_filter() -> Program:
    """The run filter, compiled here (imports pyseccomp: not for sandbox processes)."""
    from sandbox.harden import seccomp_build

    return seccomp_build.filters().run


def install_base_filter() -> list[str]:
    """Compile (imports pyseccomp) and load the base filter; returns what it refuses."""
    from sandbox.harden import seccomp_build

    return load_program(seccomp_build.filters().base)


def install_run_filter() -> list[str]:
    """Compile (imports pyseccomp) and load the run filter on top of the base one."""
    return load_program(compile_run_filter())
