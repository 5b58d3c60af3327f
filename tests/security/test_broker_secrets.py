"""Attacks on secrets held by the broker: reflection, ungranted names, weak storage."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from host.errors import ConfigError
from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from tests.skills.fakes import MemoryAudit, Seen, call, error_of, http_server

KEY = "sk-live-5ecret/+Value=="
AUTH = {"Authorization": "Bearer ${secret:SEARCH_API_KEY}"}


def broker(port: int, audit: MemoryAudit, secrets: dict[str, str] | None = None) -> Broker:
    grant = Grant(
        http=(HttpGrant(host=f"127.0.0.1:{port}", unsafe_allow_private=True),),
        secrets=("SEARCH_API_KEY",),
    )
    values = {"SEARCH_API_KEY": KEY} if secrets is None else secrets
    return Broker(grant, StaticSecrets(values), audit, request_id="req-s")


def reflect(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    token = seen.headers.get("authorization", "")
    body = f"you sent {token}; encoded {quote(token, safe='')}; json {token!r}"
    return 200, {"content-type": "text/plain", "x-echo": token}, body.encode()


def test_secret_reflected_by_the_server_is_redacted_everywhere() -> None:
    audit = MemoryAudit()
    with http_server({"/echo": reflect}) as srv:
        b = broker(srv.port, audit)
        raw = b(
            f'{{"v":1,"op":"http.request","url":"{srv.base}/echo",'
            '"secret_headers":{"Authorization":"Bearer ${secret:SEARCH_API_KEY}"}}'.encode()
        )
        assert srv.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY.encode() not in raw
    assert quote(KEY, safe="").encode() not in raw
    assert b"Bearer [redacted:SEARCH_API_KEY]" in raw
    assert KEY not in audit.dump()


def test_secret_reflected_in_a_redirect_url_is_redacted() -> None:
    def bounce(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return 302, {"location": f"/landing?k={quote(token, safe='')}"}, b""

    def landing(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "text/plain"}, seen.path.encode()

    with http_server({"/go": bounce, "/landing": landing}) as srv:
        reply = call(broker(srv.port, MemoryAudit()), url=f"{srv.base}/go", secret_headers=AUTH)
    assert isinstance(reply["result"], dict)
    assert reply["result"]["url"] == f"{srv.base}/landing?k=[redacted:SEARCH_API_KEY]"
    assert reply["result"]["body"] == "/landing?k=[redacted:SEARCH_API_KEY]"


def test_secret_not_in_the_grant_is_refused_before_sending() -> None:
    audit = MemoryAudit()
    with http_server({"/": reflect}) as srv:
        reply = call(
            broker(srv.port, audit, {"SEARCH_API_KEY": KEY, "ADMIN_TOKEN": "admin-0123456789"}),
            url=f"{srv.base}/",
            secret_headers={"Authorization": "Bearer ${secret:ADMIN_TOKEN}"},
        )
        assert srv.seen == []
    assert error_of(reply) == ("not_granted", "secret 'ADMIN_TOKEN' is not granted to this run")
    assert audit.named("broker.denied")[0]["code"] == "not_granted"


def test_granted_secret_without_a_value_is_secret_unavailable() -> None:
    with http_server({"/": reflect}) as srv:
        reply = call(broker(srv.port, MemoryAudit(), {}), url=srv.base, secret_headers=AUTH)
        assert srv.seen == []
    assert error_of(reply) == (
        "secret_unavailable",
        "secret 'SEARCH_API_KEY' has no value on this host",
    )


def test_placeholder_outside_secret_headers_is_sent_literally() -> None:
    with http_server({"/": reflect}) as srv:
        reply = call(
            broker(srv.port, MemoryAudit()),
            url=f"{srv.base}/",
            headers={"Authorization": "${secret:SEARCH_API_KEY}"},
        )
        assert srv.seen[0].headers["authorization"] == "${secret:SEARCH_API_KEY}"
    assert reply["ok"] is True


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('SEARCH_API_KEY = "sk-0123456789"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"is readable by others \(mode 644\)") as info:
        StaticSecrets.from_file(path)
    assert info.value.hint == f"chmod 600 {path}"
    path.chmod(0o600)
    assert StaticSecrets.from_file(path).get("SEARCH_API_KEY") == "sk-0123456789"


def test_secrets_file_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text('SEARCH_API_KEY = "sk-0123456789"\n')
    real.chmod(0o600)
    link = tmp_path / "secrets.toml"
    os.symlink(real, link)
    with pytest.raises(ConfigError, match="cannot open secrets file"):
        StaticSecrets.from_file(link)


def test_short_secret_is_refused_as_unredactable() -> None:
    with pytest.raises(ConfigError, match="must be 8 to 8192 characters"):
        StaticSecrets({"PIN": "1234"})


def test_secret_from_environ_and_repr_hides_values() -> None:
    secrets = StaticSecrets.from_environ(
        {"SEARCH_API_KEY": "AIRLOCK_SEARCH_KEY"}, {"AIRLOCK_SEARCH_KEY": KEY}
    )
    assert secrets.get("SEARCH_API_KEY") == KEY
    assert KEY not in repr(secrets)
    with pytest.raises(ConfigError, match=r"should come from \$MISSING, which is not set"):
        StaticSecrets.from_environ({"X_KEY": "MISSING"}, {})


def test_secret_reflected_into_a_lowercased_host_name_is_redacted() -> None:
    # Host names are normalized to lower case; the redaction must still catch the secret.
    key = "SkLiveABCDEF0123456789"

    def bounce(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return 302, {"location": f"http://{token}.collector.example/"}, b""

    audit = MemoryAudit()
    with http_server({"/go": bounce}) as srv:
        reply = call(broker(srv.port, audit, {"SEARCH_API_KEY": key}), url=f"{srv.base}/go",
                     secret_headers=AUTH)  # fmt: skip
    code, message = error_of(reply)
    assert code == "not_granted"
    assert message == (
        "http://[redacted:SEARCH_API_KEY].collector.example:80 is not granted to this run"
    )
    assert key.lower() not in audit.dump().lower()
