"""Who the edge thinks is talking: JIDs as memory paths, hidden room occupants, no STARTTLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.agent.agent import Agent, Inbound
from host.agent.memory import MemoryStore
from host.config import RoomConfig
from host.xmpp.access import AccessList
from host.xmpp.rooms import RoomRules
from tests.fixtures.gateway import echo_gateway
from tests.fixtures.prosody import PLAIN_DOMAIN, Prosody
from tests.fixtures.scripts import scripted
from tests.fixtures.xmpp import WAIT, running_service, service_config

HOSTILE_KEYS = [
    "../../../../tmp/owned",
    "..",
    "a/../../b@x",
    "evil\x00@x",
    "\u2024\u2024/escape@x",  # ONE DOT LEADER looks like '..'
    "x" * 10_000 + "@x",
    "/etc/passwd",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_xmpp_hostile_jid_stays_inside_memory_root(tmp_path: Path, key: str) -> None:
    root = tmp_path / "memory"
    agent = Agent(
        memory=MemoryStore(root, idle_timeout_mins=0),
        provider=scripted({"turns": [{"text": "ok"}]}),
        gateway=echo_gateway(),
    )
    assert asyncio.run(agent.handle(Inbound(conversation=key, requester=key, text="hi"))) == "ok"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 1
    assert written[0].name == "history.jsonl"
    assert written[0].parent.parent == root


def test_xmpp_hidden_room_occupant_cannot_trigger() -> None:
    rules = RoomRules.build(
        RoomConfig(jid="lobby@conference.x", nick="Airlock"),
        AccessList(jids=["alice@x"]),
        approvers=["boss@x"],
    )
    assert rules.may_trigger("alice@x")
    assert not rules.may_trigger(None)  # semi-anonymous room: real JID not shown
    assert not rules.may_trigger("mallory@x")
    assert not rules.may_command(None, "member")
    assert not rules.may_command("alice@x", "member")
    assert rules.may_command("boss@x", "none")
    assert rules.may_command(None, "owner")
    open_room = RoomRules.build(
        RoomConfig(jid="open@conference.x", unsafe_allow_any_occupant=True), AccessList(), []
    )
    assert open_room.may_trigger(None)


@pytest.mark.xmpp
def test_xmpp_server_without_starttls_gets_no_credentials(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(
            prosody, tmp_path, mode="client", server={"jid": f"bot@{PLAIN_DOMAIN}"}
        )
        async with running_service(
            config, scripted({"turns": [{"text": "x"}]}), wait_ready=False
        ) as svc:
            await asyncio.wait_for(svc.failed.wait(), WAIT)
            assert svc.fatal is not None
            assert svc.fatal.startswith("the server did not offer STARTTLS")
            assert svc.stream.authenticated is False
            assert svc.stream.plugin["feature_mechanisms"].mech is None

    asyncio.run(main())


@pytest.mark.xmpp
def test_xmpp_server_with_an_untrusted_certificate_gets_no_credentials(
    prosody: Prosody, tmp_path: Path
) -> None:
    # The fixture's Prosody has a self-signed certificate; without tls_ca_file pointing at it,
    # the system's trust store does not know it.
    async def main() -> None:
        config = service_config(prosody, tmp_path, mode="client", server={"tls_ca_file": None})
        async with running_service(
            config, scripted({"turns": [{"text": "x"}]}), wait_ready=False
        ) as svc:
            await asyncio.wait_for(svc.failed.wait(), WAIT)
            assert svc.fatal is not None
            assert svc.fatal.startswith(
                "the server's TLS certificate failed verification (self-signed certificate)"
            )
            assert "set tls_ca_file" in svc.fatal
            assert svc.stream.authenticated is False
            assert svc.stream.plugin["feature_mechanisms"].mech is None

    asyncio.run(main())
