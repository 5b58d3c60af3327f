"""The demo's person: a plain slixmpp client on STARTTLS that keeps every message it receives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Message

from host.errors import AirlockError

__all__ = ["WAIT_S", "User"]

# Generous for a busy 2-core machine: a sandboxed run plus a model turn take well under this.
WAIT_S = 20.0
# How long the agent's component gets to connect after `airlock serve` starts (it loads the
# policy and skills and starts warm sandboxes first).
HOST_START_S = 30.0


class User(ClientXMPP):
    """A person's client; :meth:`next_message` returns what arrives, in order."""

    def __init__(self, jid: str, password: str, ca_file: Path) -> None:
        super().__init__(f"{jid}/demo", password)
        self.ca_certs = ca_file
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._ready = asyncio.Event()
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("message", self._message)

    def _start(self, _event: Any) -> None:
        self.send_presence()
        self._ready.set()

    def _message(self, msg: Message) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.inbox.put_nowait(msg)

    async def start(self, port: int) -> None:
        """Connect to the local server and wait for the session."""
        self.connect("127.0.0.1", port)
        try:
            await asyncio.wait_for(self._ready.wait(), WAIT_S)
        except TimeoutError:
            raise AirlockError(f"{self.boundjid.bare} could not log in to Prosody") from None

    async def wait_for_agent(self, domain: str, alive: Any) -> None:
        """Ping ``domain`` until the agent's component answers; ``alive()`` False stops early."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOST_START_S
        while loop.time() < deadline:
            if not alive():
                raise AirlockError("airlock serve exited before it connected")
            try:
                await self.plugin["xep_0199"].ping(JID(domain), timeout=2)
                return
            except (IqError, IqTimeout):
                await asyncio.sleep(0.2)
        raise AirlockError(f"the agent ({domain}) did not connect within {HOST_START_S:.0f} s")

    def say(self, to: str, text: str) -> None:
        """Send a chat message."""
        self.send_message(mto=JID(to), mbody=text, mtype="chat")

    async def next_message(self) -> Message:
        """The next message received; AirlockError after :data:`WAIT_S` of silence."""
        try:
            return await asyncio.wait_for(self.inbox.get(), WAIT_S)
        except TimeoutError:
            raise AirlockError(f"no message arrived within {WAIT_S:.0f} s") from None

    async def stop(self) -> None:
        """Disconnect."""
        await self.disconnect(wait=1.0)
