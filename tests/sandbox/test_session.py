"""Supervisor-side checks of one session: required layers, host-call error documents."""

from __future__ import annotations

import json

from host.errors import BrokerError
from sandbox.harden.shapes import missing_layers
from sandbox.session import _serve, error_reply
from sandbox.spec import Enforcement


def full() -> Enforcement:
    return Enforcement(
        landlock_abi=7,
        landlock_rules=["fs", "net", "scope"],
        no_new_privs=True,
        capabilities_dropped=True,
        seccomp=True,
    )


def test_nothing_missing_when_every_layer_holds() -> None:
    layers = frozenset(
        {"landlock_fs", "landlock_net", "landlock_scope", "seccomp", "no_new_privs", "caps_dropped"}
    )
    assert missing_layers(full(), layers) == []  # type: ignore[arg-type]


def test_each_missing_layer_is_named() -> None:
    degraded = full().model_copy(update={"landlock_rules": ["fs"], "seccomp": False})
    required = frozenset({"landlock_net", "seccomp", "landlock_fs"})
    assert missing_layers(degraded, required) == ["landlock_net", "seccomp"]  # type: ignore[arg-type]


def test_nothing_required_nothing_missing() -> None:
    assert missing_layers(Enforcement(), frozenset()) == []


def test_error_reply_is_abi_v1() -> None:
    assert json.loads(error_reply("host_error", "boom")) == {
        "v": 1,
        "ok": False,
        "error": {"code": "host_error", "message": "boom"},
    }


def test_handler_airlock_error_keeps_its_message() -> None:
    def refuse(request: bytes) -> bytes:
        raise BrokerError("host example.org is not in the grant", hint="ask the deployer")

    reply = json.loads(_serve(refuse, b"{}"))
    assert reply["error"]["message"] == "host example.org is not in the grant (BrokerError)"


def test_no_handler_gets_an_error_document() -> None:
    assert json.loads(_serve(None, b"{}"))["error"]["code"] == "no_handler"
