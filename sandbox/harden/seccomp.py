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

The run filter is loaded once per run, so it is compiled apart from loading:
:func:`compile_run_filter` has libseccomp generate the BPF program (about 0.5 ms, done once in
the zygote), and :func:`load_program` hands those same bytes to seccomp(2) in each run child.
The cold path goes through the same two functions, so both paths load an identical program.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from dataclasses import dataclass

import pyseccomp as sc

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


def _new_filter() -> sc.SyscallFilter:
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    flt.set_attr(sc.Attr.CTL_TSYNC, 1)
    return flt


def _deny(flt: sc.SyscallFilter, names: tuple[str, ...], err: int) -> list[str]:
    added = []
    for name in names:
        try:
            flt.add_rule(sc.ERRNO(err), name)
        except (OSError, ValueError):
            continue  # not a system call on this architecture (or this libseccomp)
        added.append(name)
    return added


def install_base_filter() -> list[str]:
    """Load the base filter; returns what it refuses, as reported in Enforcement.seccomp_denied."""
    flt = _new_filter()
    denied = _deny(flt, BASE_DENIED, errno.EPERM)
    denied += [f"{name} (ENOSYS)" for name in _deny(flt, ("clone3",), errno.ENOSYS)]
    for flag in CLONE_NAMESPACE_FLAGS:
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    denied.append("clone with a namespace flag")
    for name, pid_arg in OTHER_PROCESS_CALLS:
        flt.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(pid_arg, sc.NE, 0))
        denied.append(f"{name} on another process")
    for name, which_process in ONLY_WHICH_PROCESS:
        flt.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(0, sc.NE, which_process))
    for name, request in TTY_IOCTLS_DENIED:
        flt.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
        denied.append(f"ioctl {name}")
    flt.load()
    return denied


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
    """A compiled filter: classic BPF for the native architecture, and what it refuses."""

    bpf: bytes
    denied: tuple[str, ...]


def compile_run_filter() -> Program:
    """The run filter, compiled by libseccomp but not loaded (see :func:`load_program`)."""
    flt, denied = _run_filter()
    # libseccomp writes the program to a descriptor; a memfd keeps it off the filesystem.
    _seccomp_syscall()  # resolved here too, so a zygote's children inherit the answer
    fd = os.memfd_create("airlock-run-filter", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        bpf = out.read()
    count, rest = divmod(len(bpf), BPF_INSTRUCTION_BYTES)
    if rest or not 0 < count <= MAX_PROGRAM_INSTRUCTIONS:
        raise HardeningError(f"libseccomp exported a malformed filter ({len(bpf)} bytes)")
    return Program(bpf=bpf, denied=tuple(denied))


def load_program(program: Program) -> list[str]:
    """Load ``program`` into this process, synchronised to every thread; returns its report.

    Does what libseccomp's own load does for our filters (no_new_privs is already set by
    harden_base), minus recompiling the program: ``seccomp(SET_MODE_FILTER, TSYNC, prog)``.
    """
    number = _seccomp_syscall()
    buffer = ctypes.create_string_buffer(program.bpf, len(program.bpf))
    fprog = _SockFprog(len(program.bpf) // BPF_INSTRUCTION_BYTES, ctypes.addressof(buffer))
    flags = SECCOMP_FILTER_FLAG_TSYNC
    failed_thread = syscall(number, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog))
    if failed_thread:  # with TSYNC, a positive result names a thread that could not follow
        raise HardeningError(f"seccomp could not synchronise thread {failed_thread}")
    return list(program.denied)


@functools.cache
def _seccomp_syscall() -> int:
    number = sc.resolve_syscall(sc.Arch.NATIVE, "seccomp")
    if not isinstance(number, int) or number < 0:
        raise HardeningError("seccomp(2) has no number on this architecture")
    return number


def install_run_filter() -> list[str]:
    """Compile and load the run filter on top of the base one; returns what it adds."""
    return load_program(compile_run_filter())


def _run_filter() -> tuple[sc.SyscallFilter, list[str]]:
    flt = _new_filter()
    denied = _deny(flt, RUN_DENIED, errno.EPERM)
    flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    denied.append("clone without CLONE_THREAD")
    for option, name in (
        (PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"),
        (PR_SET_DUMPABLE, "PR_SET_DUMPABLE"),
    ):
        # prctl's option is an int: the kernel ignores the upper 32 bits, so must the filter
        flt.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.MASKED_EQ, 0xFFFFFFFF, option))
        denied.append(f"prctl {name}")
    return flt, denied
