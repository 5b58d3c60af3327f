"""The seccomp filters: what they refuse, and that the runtime still works under them."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

import pytest

from host.errors import HardeningError
from sandbox.harden import landlock, seccomp, seccomp_build
from tests.security.child_payload import run_snippet

pytestmark = [
    pytest.mark.seccomp,
    pytest.mark.skipif(not seccomp.available(), reason="kernel has no seccomp filter mode"),
]


def test_base_filter_refuses_each_listed_call_with_eperm() -> None:
    # Each refused call is made raw, with harmless arguments, right after the base filter.
    result = run_snippet("""
import ctypes, errno, platform
from sandbox.harden import privileges, seccomp
import pyseccomp
privileges.set_no_new_privs()
denied = seccomp.install_base_filter()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
answers = {}
for name in seccomp.BASE_DENIED:
    nr = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), 0, 0, 0, 0, 0)
    answers[name] = errno.errorcode.get(ctypes.get_errno(), "none") if rc == -1 else "ran"
result = dict(denied=denied, answers=answers)
""")
    assert set(result["answers"].values()) == {"EPERM"}, result["answers"]
    assert result["denied"][: len(seccomp.BASE_DENIED)] == list(seccomp.BASE_DENIED)


def test_clone3_answers_enosys_so_threads_fall_back_to_clone() -> None:
    result = run_snippet("""
import ctypes, threading
from sandbox.harden import privileges, seccomp
privileges.set_no_new_privs()
seccomp.install_base_filter()
seccomp.install_run_filter()
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.syscall(435, 0, 0)
seen = []
worker = threading.Thread(target=seen.append, args=("thread ran",))
worker.start()
worker.join()
result = dict(clone3=ctypes.get_errno() if rc == -1 else "ran", thread=seen)
""")
    assert result == {"clone3": 38, "thread": ["thread ran"]}  # ENOSYS


def test_unshare_through_clone_flags_is_refused() -> None:
    # The base filter keeps fork for the zygote, but a clone that makes a new namespace (here a
    # user namespace, which would hand back capabilities inside it) is refused.
    result = run_snippet("""
import ctypes, signal
from sandbox.harden import privileges, seccomp
privileges.set_no_new_privs()
seccomp.install_base_filter()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE_NEWUSER = 0x10000000
rc = libc.syscall(56, ctypes.c_long(CLONE_NEWUSER | signal.SIGCHLD), 0, 0, 0, 0)
if rc == 0:
    os._exit(0)
result = ctypes.get_errno() if rc == -1 else "cloned"
""")
    assert result == 1  # EPERM


@pytest.mark.landlock
@pytest.mark.skipif(landlock.abi_version() < 1, reason="kernel has no Landlock")
def test_landlock_alone_lets_pathname_unix_sockets_through(tmp_path: Path) -> None:
    # Why the socket rule exists: Landlock ABI 7 does not govern connecting to a pathname unix
    # socket, even one outside every grant. If a later ABI does, this test says so.
    if landlock.abi_version() > 7:
        pytest.skip("a Landlock ABI above 7 may govern pathname unix sockets")
    path = tmp_path / "outside.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    try:
        result = run_snippet(f"""
import socket
from sandbox.harden import landlock, privileges
privileges.set_no_new_privs()
rs = landlock.Ruleset(handled_fs=landlock.fs_rights(landlock.abi_version()))
rs.restrict_self()
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect({str(path)!r})
result = "connected"
""")
    finally:
        server.close()
    assert result == "connected"


_RUN_FILTER_PROBES = """
import ctypes, errno, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def answer(*call):
    ctypes.set_errno(0)
    rc = libc.syscall(*[ctypes.c_long(a) for a in call])
    return errno.errorcode.get(ctypes.get_errno(), "none") if rc == -1 else "ran"

seen = []
worker = threading.Thread(target=seen.append, args=("thread ran",))
worker.start()
worker.join()
with open("/proc/self/status") as status:
    filters = [line.split()[1] for line in status if line.startswith("Seccomp_filters:")]
result = dict(
    fork=answer(57),  # x86_64 fork; vfork and plain clone are refused by the same rules
    pdeathsig=answer(157, 1, 0),  # prctl(PR_SET_PDEATHSIG, 0)
    pdeathsig_high_bits=answer(157, 1 | (1 << 32), 0),
    dumpable=answer(157, 4, 1),
    getpid=answer(39),
    thread=seen,
    filters=filters,
)
"""

_EXPECTED_RUN_FILTER = {
    "fork": "EPERM",
    "pdeathsig": "EPERM",
    "pdeathsig_high_bits": "EPERM",
    "dumpable": "EPERM",
    "getpid": "ran",
    "thread": ["thread ran"],
    "filters": ["1"],
}

needs_x86_64 = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the probes use x86_64 call numbers"
)


@needs_x86_64
def test_run_filter_compiled_ahead_behaves_as_libseccomp_loads_it() -> None:
    # The supervisor compiles the run filter once and every run child loads the bytes raw. The
    # same rules loaded by libseccomp itself must give the same answer to each probe.
    by_libseccomp = run_snippet(
        """
from sandbox.harden import privileges, seccomp_build
privileges.set_no_new_privs()
flt, _ = seccomp_build._run_filter()
flt.load()
"""
        + _RUN_FILTER_PROBES
    )
    compiled_ahead = run_snippet(
        """
from sandbox.harden import privileges, seccomp
privileges.set_no_new_privs()
program = seccomp.compile_run_filter()
assert program == seccomp.compile_run_filter()  # deterministic: one program for every child
pid = os.fork()
if pid:
    os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
seccomp.load_program(program)
"""
        + _RUN_FILTER_PROBES
    )
    assert by_libseccomp == _EXPECTED_RUN_FILTER
    assert compiled_ahead == _EXPECTED_RUN_FILTER


def test_compiled_run_filter_reports_what_it_refuses() -> None:
    program = seccomp.compile_run_filter()
    assert len(program.bpf) % seccomp.BPF_INSTRUCTION_BYTES == 0
    assert program.denied == (
        "fork",
        "vfork",
        "clone without CLONE_THREAD",
        "prctl PR_SET_PDEATHSIG",
        "prctl PR_SET_DUMPABLE",
    )


def test_filters_travel_through_a_sealed_memfd_unchanged() -> None:
    fd = seccomp_build.handoff_fd()
    try:
        with pytest.raises(PermissionError):  # F_SEAL_WRITE: no holder can change the bytes
            os.pwrite(fd, b"x", 0)
        copy = os.dup(fd)
    finally:
        os.close(fd)
    received = seccomp.FilterSet.read_from(copy)
    assert received == seccomp_build.filters()
    assert received.base.denied[: len(seccomp.BASE_DENIED)] == seccomp.BASE_DENIED
    with pytest.raises(OSError, match="Bad file descriptor"):  # read_from closed it
        os.fstat(copy)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "the seccomp filters handed over are malformed"),
        (b'{"base": {}}', "the seccomp filters handed over are malformed ('bpf')"),
        (
            b'{"base": {"bpf": "AAAA", "denied": [], "syscall": 317},'
            b' "run": {"bpf": "AAAA", "denied": [], "syscall": 317}}',
            "a malformed seccomp filter (3 bytes of BPF)",
        ),
        (
            b'{"base": {"bpf": "AAAAAAAAAAA=", "denied": [1], "syscall": 317},'
            b' "run": {"bpf": "AAAAAAAAAAA=", "denied": [], "syscall": 317}}',
            "denied holds a non-string",
        ),
        (
            b'{"base": {"bpf": "AAAAAAAAAAA=", "denied": [], "syscall": true},'
            b' "run": {"bpf": "AAAAAAAAAAA=", "denied": [], "syscall": 317}}',
            "bpf, denied or syscall has the wrong type",
        ),
    ],
)
def test_malformed_filters_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(HardeningError) as caught:
        seccomp.FilterSet.from_bytes(data)
    assert message in str(caught.value)


def test_oversized_filters_are_refused_unparsed() -> None:
    fd = os.memfd_create("big")
    os.write(fd, b" " * (seccomp.FilterSet.MAX_BYTES + 1))
    with pytest.raises(HardeningError, match="exceed 262144 bytes"):
        seccomp.FilterSet.read_from(fd)
