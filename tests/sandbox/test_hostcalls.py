"""The ``airlock`` host-call transport (ABI v1) through the real warm child, with fake handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.errors import BrokerError
from sandbox.runtime import MAX_HOST_REPLY, MAX_HOST_REQUEST
from sandbox.spec import Limits, RunResult, RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, write_module

__all__ = ["box"]


class Echo:
    """A handler that answers every request with a document quoting it, and counts calls."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    def __call__(self, request: bytes) -> bytes:
        self.requests.append(request)
        return json.dumps({"v": 1, "ok": True, "echo": request.decode()}).encode()


def call(
    box: Sandbox,
    tmp_path: Path,
    handler: object,
    *,
    mode: str = "once",
    request: bytes = b'{"v":1,"op":"ping"}',
    limits: Limits | None = None,
) -> RunResult:
    spec = RunSpec(
        module=write_module(tmp_path, "hostcall"),
        args=(mode,),
        input=request,
        limits=limits or Limits(),
    )
    return box.run(spec, handler)  # type: ignore[arg-type]


def test_request_reaches_the_handler_and_reply_the_module(box: Sandbox, tmp_path: Path) -> None:
    handler = Echo()
    result = call(box, tmp_path, handler)
    assert result.status is Status.OK
    assert handler.requests == [b'{"v":1,"op":"ping"}']
    reply = json.loads(result.stdout.removeprefix("reply "))
    assert reply == {"v": 1, "ok": True, "echo": '{"v":1,"op":"ping"}'}


def test_budget_exhausted_answers_minus_3(box: Sandbox, tmp_path: Path) -> None:
    handler = Echo()
    result = call(box, tmp_path, handler, mode="many", limits=Limits(max_host_calls=3))
    assert len(handler.requests) == 3
    assert result.stdout.splitlines()[-1] == "code -3"
    assert result.stdout.count("reply ") == 3


def test_no_handler_answers_minus_4(box: Sandbox, tmp_path: Path) -> None:
    assert call(box, tmp_path, None).stdout == "code -4\n"


def test_request_too_large_answers_minus_2(box: Sandbox, tmp_path: Path) -> None:
    handler = Echo()
    result = call(box, tmp_path, handler, request=b"x" * (MAX_HOST_REQUEST + 1))
    assert result.stdout == "code -2\n"
    assert handler.requests == []


def test_request_outside_memory_answers_minus_1(box: Sandbox, tmp_path: Path) -> None:
    handler = Echo()
    assert call(box, tmp_path, handler, mode="bounds").stdout == "code -1\n"
    assert handler.requests == []


def test_small_buffer_answers_minus_2_and_keeps_the_reply(box: Sandbox, tmp_path: Path) -> None:
    result = call(box, tmp_path, lambda request: b"0123456789", mode="small")
    assert result.stdout == "code -2\nreply 0123456789\n"


def test_reply_before_any_call_answers_minus_5(box: Sandbox, tmp_path: Path) -> None:
    assert call(box, tmp_path, Echo(), mode="noreply").stdout == "code -5\n"


def test_handler_exception_becomes_an_error_reply(box: Sandbox, tmp_path: Path) -> None:
    def broken(request: bytes) -> bytes:
        raise BrokerError("upstream refused the connection")

    result = call(box, tmp_path, broken)
    assert result.status is Status.OK
    reply = json.loads(result.stdout.removeprefix("reply "))
    assert reply == {
        "v": 1,
        "ok": False,
        "error": {
            "code": "host_error",
            "message": "upstream refused the connection (BrokerError)",
        },
    }


def test_unexpected_handler_bug_does_not_leak_its_text(box: Sandbox, tmp_path: Path) -> None:
    def buggy(request: bytes) -> bytes:
        raise KeyError("/etc/airlock/secret-path")

    result = call(box, tmp_path, buggy)
    assert "secret-path" not in result.stdout
    assert json.loads(result.stdout.removeprefix("reply "))["error"] == {
        "code": "host_error",
        "message": "the host-call handler failed (KeyError)",
    }


def test_oversized_reply_is_refused(box: Sandbox, tmp_path: Path) -> None:
    result = call(box, tmp_path, lambda request: b"x" * (MAX_HOST_REPLY + 1))
    assert json.loads(result.stdout.removeprefix("reply "))["error"]["code"] == "reply_too_large"


@pytest.mark.parametrize("path", ["cold"])
def test_host_calls_on_the_cold_path(path: str, tmp_path: Path) -> None:
    from sandbox import supervisor

    spec = RunSpec(module=write_module(tmp_path, "hostcall"), input=b"ping")
    result = supervisor.run(spec, lambda request: b"pong:" + request)
    assert (result.status, result.stdout) == (Status.OK, "reply pong:ping\n")
