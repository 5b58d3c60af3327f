"""The seccomp filters: what they refuse, and that the runtime still works under them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sandbox.harden import landlock, seccomp
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
