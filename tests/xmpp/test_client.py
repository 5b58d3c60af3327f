"""The agent as a C2S client against a real Prosody: STARTTLS, SCRAM, stream management."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fixtures.prosody import Prosody
from tests.fixtures.scripts import scripted
from tests.fixtures.xmpp import WAIT, humans, running_service, service_config

pytestmark = pytest.mark.xmpp
ECHO = {"turns": [{"text": "You said: {user}"}]}


def test_client_mode_over_starttls_with_scram(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path, mode="client")
        async with (
            running_service(config, scripted(ECHO)) as svc,
            humans(prosody, "alice") as [alice],
        ):
            assert svc.jid == "bot@localhost"
            mech = svc.stream.plugin["feature_mechanisms"].mech
            assert mech.name.startswith("SCRAM-SHA-")
            assert "starttls" in svc.stream.features
            assert svc.stream.plugin["xep_0198"].enabled_in
            assert await alice.ask(svc.jid, "over tls") == "You said: over tls"
            status = await alice.ask(svc.jid, "/status")
            assert ", client mode, model scripted." in status

    asyncio.run(main())


def test_wrong_password_is_fatal(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(prosody, tmp_path, mode="client", server={"password": "nope"})
        async with running_service(config, scripted(ECHO), wait_ready=False) as svc:
            await asyncio.wait_for(svc.failed.wait(), WAIT)
            assert svc.fatal is not None
            assert svc.fatal.startswith("authentication failed")
            assert svc.stream.authenticated is False

    asyncio.run(main())


def test_stream_resumes_and_no_message_is_lost(prosody: Prosody, tmp_path: Path) -> None:
    async def main() -> None:
        config = service_config(
            prosody, tmp_path, mode="client", server={"reconnect_max_delay_secs": 1}
        )
        async with (
            running_service(config, scripted(ECHO)) as svc,
            humans(prosody, "alice") as [alice],
        ):
            resumed = asyncio.Event()
            svc.stream.add_event_handler("session_resumed", lambda _e: resumed.set())
            assert await alice.ask(svc.jid, "before") == "You said: before"
            svc.stream.abort()  # the link dies; the server keeps the session (XEP-0198)
            alice.send_message(mto=svc.jid, mbody="while you were away", mtype="chat")
            await asyncio.wait_for(resumed.wait(), WAIT)
            assert str((await alice.next_message())["body"]) == "You said: while you were away"

    asyncio.run(main())
