"""A module that escaped wasmtime tries the network: no socket, and Landlock behind seccomp."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.info import probe
from tests.security.child_payload import PATHS, make_grants, run_attack, supported

pytestmark = [
    pytest.mark.landlock,
    pytest.mark.seccomp,
    pytest.mark.skipif(not probe().seccomp_filter, reason="kernel has no seccomp filter mode"),
]
needs_net = pytest.mark.skipif(not supported(4), reason="Landlock ABI < 4: no network rules")
needs_scope = pytest.mark.skipif(not supported(6), reason="Landlock ABI < 6: no scopes")


@pytest.fixture(params=PATHS)
def hardening(request: pytest.FixtureRequest) -> str:
    """Each attack runs against the cold path and the warm (zygote) path."""
    return str(request.param)


@pytest.fixture
def tcp_listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0)
    yield server
    server.close()


@pytest.fixture
def abstract_listener() -> Iterator[str]:
    name = f"airlock-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(8)
    yield name
    server.close()


def _accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_child_cannot_open_tcp_connection(
    tmp_path: Path, tcp_listener: socket.socket, hardening: str
) -> None:
    port = tcp_listener.getsockname()[1]
    verdict = run_attack(
        "tcp_connect", make_grants(tmp_path).plan(), {"port": port}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")
    assert not _accepted(tcp_listener)


@needs_net
def test_child_tcp_connect_refused_by_landlock_alone(
    tmp_path: Path, tcp_listener: socket.socket
) -> None:
    port = tcp_listener.getsockname()[1]
    plan = make_grants(tmp_path).plan()
    verdict = run_attack("tcp_connect", plan, {"port": port}, layers="landlock")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "connect")
    assert not _accepted(tcp_listener)


def test_child_cannot_bind_tcp_port(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("tcp_bind", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")


@needs_net
def test_child_tcp_bind_refused_by_landlock_alone(tmp_path: Path) -> None:
    verdict = run_attack("tcp_bind", make_grants(tmp_path).plan(), layers="landlock")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "bind")


def test_child_cannot_send_udp(tmp_path: Path, hardening: str) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    try:
        port = receiver.getsockname()[1]
        verdict = run_attack(
            "udp_send", make_grants(tmp_path).plan(), {"port": port}, layers=hardening
        )
        assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")
        with pytest.raises(BlockingIOError):
            receiver.recv(16)
    finally:
        receiver.close()


def test_child_cannot_connect_abstract_unix_socket(
    tmp_path: Path, abstract_listener: str, hardening: str
) -> None:
    plan = make_grants(tmp_path).plan()
    verdict = run_attack("unix_connect", plan, {"abstract": abstract_listener}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")


@needs_scope
def test_child_abstract_unix_refused_by_landlock_scope_alone(
    tmp_path: Path, abstract_listener: str
) -> None:
    plan = make_grants(tmp_path).plan()
    verdict = run_attack("unix_connect", plan, {"abstract": abstract_listener}, layers="landlock")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "connect")


def test_child_cannot_connect_pathname_unix_socket(tmp_path: Path, hardening: str) -> None:
    # Landlock (ABI 7) does not govern connecting to a pathname socket: seccomp's socket rule is
    # the layer that stops this one (see tests/sandbox/test_harden_seccomp.py for the proof).
    path = tmp_path / "rw-listener.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    try:
        g = make_grants(tmp_path)
        verdict = run_attack("unix_connect", g.plan(), {"path": str(path)}, layers=hardening)
        assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")
    finally:
        server.close()


def test_child_cannot_open_raw_socket(tmp_path: Path, hardening: str) -> None:
    verdict = run_attack("raw_socket", make_grants(tmp_path).plan(), layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EPERM", "socket")
