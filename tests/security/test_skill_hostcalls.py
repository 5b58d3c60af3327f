"""Hostile modules making host calls, run in the real sandbox with the real broker.

Every refusal reaches the module as a precise error (a reply or a negative return), is audited,
and leaves the host running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from sandbox.spec import Limits, RunResult, Status
from tests.skills.fakes import MemoryAudit, Seen, http_server, text
from tests.skills.wat import ENV_DUMP, caller

supervisor = pytest.importorskip("sandbox.supervisor", reason="sandbox.supervisor not available")

KEY = "sk-live-0123456789abcdef"


@pytest.fixture(scope="module")
def box() -> Iterator[object]:
    with supervisor.Sandbox() as sandbox:
        yield sandbox


def run(box: object, tmp_path: Path, wat: str, grant: Grant, broker: Broker | None) -> RunResult:
    module = tmp_path / "attack.wasm"
    module.write_bytes(wasmtime.wat2wasm(wat))
    spec = grant.run_spec(module, input=b"{}", expected_sha256=None)
    result: RunResult = box.run(spec, broker)  # type: ignore[attr-defined]
    return result


def request(url: str, **extra: object) -> bytes:
    return json.dumps({"v": 1, "op": "http.request", "url": url, **extra}).encode()


def test_module_asking_for_an_ungranted_host_gets_not_granted(box: object, tmp_path: Path) -> None:
    audit = MemoryAudit()
    grant = Grant(http=(HttpGrant(host="api.example.org"),))
    broker = Broker(grant, StaticSecrets({}), audit, request_id="r1")
    result = run(box, tmp_path, caller(request("http://169.254.169.254/latest/")), grant, broker)
    assert result.status is Status.EXIT_NONZERO
    assert result.exit_code == 10  # one call served (with a refusal), nothing negative
    assert json.loads(result.stdout) == {
        "v": 1,
        "ok": False,
        "error": {
            "code": "not_granted",
            "message": "http://169.254.169.254:80 is not granted to this run",
        },
    }
    assert audit.named("broker.denied")[0]["code"] == "not_granted"


def test_module_asking_for_loopback_gets_forbidden_address(box: object, tmp_path: Path) -> None:
    audit = MemoryAudit()
    with http_server({"/": text("internal admin")}) as srv:
        grant = Grant(http=(HttpGrant(host=f"127.0.0.1:{srv.port}"),))
        broker = Broker(grant, StaticSecrets({}), audit)
        result = run(box, tmp_path, caller(request(f"{srv.base}/")), grant, broker)
        assert srv.seen == []
    reply = json.loads(result.stdout)
    assert reply["error"]["code"] == "forbidden_address"
    assert "internal admin" not in result.stdout


def test_module_asking_for_a_huge_response_gets_too_large(box: object, tmp_path: Path) -> None:
    audit = MemoryAudit()
    with http_server({"/big": text("z" * 300_000)}) as srv:
        grant = Grant(
            http=(
                HttpGrant(
                    host=f"127.0.0.1:{srv.port}", unsafe_allow_private=True, max_response_kb=64
                ),
            )
        )
        broker = Broker(grant, StaticSecrets({}), audit)
        result = run(box, tmp_path, caller(request(f"{srv.base}/big")), grant, broker)
    assert json.loads(result.stdout)["error"] == {
        "code": "too_large",
        "message": "response of 300000 bytes is over the 65536 byte cap",
    }


def test_module_following_a_redirect_to_a_forbidden_host_is_stopped(
    box: object, tmp_path: Path
) -> None:
    audit = MemoryAudit()
    with http_server({"/go": text("", 302, location="http://10.0.0.1/admin")}) as srv:
        grant = Grant(http=(HttpGrant(host=f"127.0.0.1:{srv.port}", unsafe_allow_private=True),))
        broker = Broker(grant, StaticSecrets({}), audit)
        result = run(box, tmp_path, caller(request(f"{srv.base}/go")), grant, broker)
    assert json.loads(result.stdout)["error"] == {
        "code": "not_granted",
        "message": "http://10.0.0.1:80 is not granted to this run",
    }
    assert [e["hop"] for e in audit.named("broker.http.request")] == [0]


def test_host_call_flood_is_cut_at_the_run_budget(box: object, tmp_path: Path) -> None:
    audit = MemoryAudit()
    with http_server({"/": text("ok")}) as srv:
        grant = Grant(
            http=(HttpGrant(host=f"127.0.0.1:{srv.port}", unsafe_allow_private=True),),
            limits=Limits(max_host_calls=5),
        )
        broker = Broker(grant, StaticSecrets({}), audit)
        result = run(box, tmp_path, caller(request(f"{srv.base}/"), repeat=1000), grant, broker)
        served = len(srv.seen)
    assert result.exit_code == 53  # 5 calls served, then -3: budget exhausted
    assert served == 5
    assert broker.calls == 5
    assert len(audit.named("broker.http.request")) == 5


def test_run_without_a_handler_gets_minus_four(box: object, tmp_path: Path) -> None:
    grant = Grant()
    result = run(box, tmp_path, caller(request("http://example.org/")), grant, None)
    assert result.exit_code == 4
    assert result.stdout == ""


def test_secret_never_reaches_the_module(box: object, tmp_path: Path) -> None:
    # Reflected by the server: redacted before the module reads the reply.
    def reflect(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"x-echo": seen.headers.get("authorization", "")}, str(seen.headers).encode()

    audit = MemoryAudit()
    with http_server({"/echo": reflect}) as srv:
        grant = Grant(
            http=(HttpGrant(host=f"127.0.0.1:{srv.port}", unsafe_allow_private=True),),
            secrets=("SEARCH_API_KEY",),
            env=(("SEARCH_ENDPOINT", srv.base),),
        )
        broker = Broker(grant, StaticSecrets({"SEARCH_API_KEY": KEY}), audit)
        req = request(
            f"{srv.base}/echo",
            secret_headers={"Authorization": "Bearer ${secret:SEARCH_API_KEY}"},
        )
        reflected = run(box, tmp_path, caller(req), grant, broker)
        assert srv.seen[0].headers["authorization"] == f"Bearer {KEY}"
        # In its environment: only what the grant sets, never a secret.
        env = run(box, tmp_path, ENV_DUMP, grant, broker)
    assert KEY not in reflected.stdout + reflected.stderr
    assert "[redacted:SEARCH_API_KEY]" in reflected.stdout
    assert env.stdout.split("\0") == [f"SEARCH_ENDPOINT={srv.base}", ""]
    assert KEY not in audit.dump()
