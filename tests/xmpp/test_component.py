"""The agent as an XEP-0114 component against a real Prosody."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from tests.fixtures.gateway import echo_gateway
from tests.fixtures.prosody import Prosody
from tests.fixtures.scripts import scripted
from tests.fixtures.xmpp import WAIT, humans, running_service, service_config

pytestmark = pytest.mark.xmpp


def test_user_asks_and_gets_the_model_answer(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path)
        provider = scripted({"turns": [{"text": "You said: {user}"}]})
        async with running_service(config, provider) as svc, humans(prosody, "alice") as [alice]:
            assert svc.jid == config.server.component_domain
            assert await alice.ask(svc.jid, "hello agent") == "You said: hello agent"
            assert await alice.ask(svc.jid, "/ping") == "pong"

    asyncio.run(main())


def test_end_to_end_tool_call_denied_and_invalid(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        gw = echo_gateway()
        provider = scripted(
            {
                "when": "shout",
                "turns": [
                    {"tool_calls": [{"name": "upper", "arguments": {"text": "airlock"}}]},
                    {"text": "Tool says {tool_result}"},
                ],
            },
            {
                "when": "delete",
                "turns": [
                    {"tool_calls": [{"name": "rm", "arguments": {"text": "/etc"}}]},
                    {"text": "Refused: {tool_result}"},
                ],
            },
            {
                "when": "bad",
                "turns": [
                    {"tool_calls": [{"name": "echo", "arguments": {"text": 42}}]},
                    {"text": "Invalid: {tool_result}"},
                ],
            },
        )
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, provider, gw) as svc,
            humans(prosody, "alice") as [alice],
        ):
            assert await alice.ask(svc.jid, "shout please") == "Tool says AIRLOCK"
            assert await alice.ask(svc.jid, "delete /etc") == (
                "Refused: policy denies 'rm' for alice@localhost"
            )
            assert await alice.ask(svc.jid, "bad args") == (
                "Invalid: arguments rejected: 42 is not of type 'string'"
            )
        assert [(r.call.name, r.origin, r.requester) for r in gw.received] == [
            ("upper", "chat", "alice@localhost"),
            ("rm", "chat", "alice@localhost"),
            ("echo", "chat", "alice@localhost"),
        ]

    asyncio.run(main())


def test_iq_disco_version_ping_and_unknown(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path)
        async with (
            running_service(config, scripted({"turns": [{"text": "x"}]})) as svc,
            humans(prosody, "alice") as [alice],
        ):
            info = await alice.plugin["xep_0030"].get_info(jid=svc.jid, timeout=WAIT)
            identities = info["disco_info"]["identities"]
            assert ("client", "bot", None, "Airlock") in identities
            await alice.plugin["xep_0199"].ping(svc.jid, timeout=WAIT)
            iq = alice.make_iq_get(queryxmlns="jabber:iq:version", ito=svc.jid)
            version = await iq.send(timeout=WAIT)
            assert (
                version.xml.find("{jabber:iq:version}query/{jabber:iq:version}name").text
                == "Airlock"
            )
            unknown = alice.make_iq_get(queryxmlns="urn:example:nothing", ito=svc.jid)
            with pytest.raises(IqError) as err:
                await unknown.send(timeout=WAIT)
            assert err.value.iq["error"]["condition"] == "service-unavailable"
            assert err.value.iq["error"]["type"] == "cancel"

    asyncio.run(main())


def test_error_messages_are_ignored(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path)
        provider = scripted({"turns": [{"text": "You said: {user}"}]})
        async with running_service(config, provider) as svc, humans(prosody, "alice") as [alice]:
            msg = alice.make_message(mto=svc.jid, mbody="loop?", mtype="error")
            msg.send()
            await alice.barrier(svc.jid)
            assert alice.inbox.empty()
            assert await alice.ask(svc.jid, "still there?") == "You said: still there?"

    asyncio.run(main())


def test_wrong_component_secret_is_fatal(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path, server={"component_secret": "wrong"})
        async with running_service(
            config, scripted({"turns": [{"text": "x"}]}), wait_ready=False
        ) as svc:
            await asyncio.wait_for(svc.failed.wait(), WAIT)
            assert svc.fatal is not None
            assert svc.fatal.startswith("the server closed the stream: not-authorized")

    asyncio.run(main())


def test_reconnects_after_the_connection_drops(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path, server={"reconnect_max_delay_secs": 1})
        provider = scripted({"turns": [{"text": "You said: {user}"}]})
        async with running_service(config, provider) as svc, humans(prosody, "alice") as [alice]:
            assert await alice.ask(svc.jid, "before") == "You said: before"
            svc.stream.abort()  # the TCP connection dies without a goodbye
            await asyncio.sleep(0)
            await asyncio.wait_for(svc.ready.wait(), WAIT)
            assert svc.reconnector.reconnects >= 1
            assert await alice.ask(svc.jid, "after") == "You said: after"

    asyncio.run(main())
