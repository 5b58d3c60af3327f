"""SCRAM mutual authentication in client mode, against a scripted fake server.

A server that does not know the password can still accept any proof; SCRAM's final message
(``v=``, the server signature) is what shows it knows the password. slixmpp checks it; these
tests prove the client Airlock builds relies on that check, and never offers anything weaker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field

import pytest

from host.config import ServerConfig
from host.xmpp.connection import AirlockClient

PASSWORD = "correct horse"
SALT = b"airlock-salt"
ITERATIONS = 4096
WAIT = 10.0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class FakeServer:
    """Speaks stream features, SCRAM-SHA-1 and nothing else."""

    mechanisms: tuple[str, ...] = ("SCRAM-SHA-1",)
    honest: bool = True
    seen: bytearray = field(default_factory=bytearray)
    restarted: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        finally:
            self.closed.set()
            writer.close()

    async def _read_until(self, reader: asyncio.StreamReader, pattern: str) -> re.Match[bytes]:
        while True:
            match = re.search(pattern.encode(), bytes(self.seen))
            if match:
                return match
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("client closed")
            self.seen.extend(chunk)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._read_until(reader, r"<stream:stream[^>]*>")
        mechs = "".join(f"<mechanism>{m}</mechanism>" for m in self.mechanisms)
        writer.write(
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' "
            b"version='1.0'><stream:features>"
            b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            + mechs.encode()
            + b"</mechanisms></stream:features>"
        )
        auth = await self._read_until(reader, r"<auth[^>]*>([^<]*)</auth>")
        client_first = base64.b64decode(auth.group(1)).decode()
        bare = client_first.split(",", 2)[2]
        cnonce = dict(p.split("=", 1) for p in bare.split(","))["r"]
        server_first = f"r={cnonce}srv,s={b64(SALT)},i={ITERATIONS}"
        writer.write(
            f"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{b64(server_first.encode())}"
            "</challenge>".encode()
        )
        response = await self._read_until(reader, r"<response[^>]*>([^<]*)</response>")
        client_final = base64.b64decode(response.group(1)).decode()
        without_proof = client_final.rsplit(",p=", 1)[0]
        salted = hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), SALT, ITERATIONS)
        server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
        message = f"{bare},{server_first},{without_proof}".encode()
        signature = hmac.new(server_key, message, hashlib.sha1).digest()
        if not self.honest:
            signature = bytes(20)  # accepts the login without knowing the password
        final = b64(b"v=" + b64(signature).encode())
        writer.write(
            f"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{final}</success>".encode()
        )
        del self.seen[:]
        await self._read_until(reader, r"<stream:stream[^>]*>")
        self.restarted.set()


async def login(server: FakeServer) -> AirlockClient:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    cfg = ServerConfig(
        host="127.0.0.1",
        port=port,
        mode="client",
        jid="bot@localhost",
        password=PASSWORD,  # type: ignore[arg-type]
        unsafe_allow_plaintext=True,  # the fake speaks no TLS; SCRAM is what is under test
    )
    client = AirlockClient(cfg, "Airlock")
    client.connect("127.0.0.1", port)
    try:
        await asyncio.wait_for(
            asyncio.wait(
                [
                    asyncio.ensure_future(server.restarted.wait()),
                    asyncio.ensure_future(server.closed.wait()),
                ],
                return_when=asyncio.FIRST_COMPLETED,
            ),
            WAIT,
        )
    finally:
        client.abort()
        listener.close()
    return client


def test_xmpp_scram_server_signature_is_verified() -> None:
    async def main() -> None:
        honest = FakeServer(honest=True)
        client = await login(honest)
        assert honest.restarted.is_set()  # a server that knows the password: login proceeds
        assert client.plugin["feature_mechanisms"].mech.name == "SCRAM-SHA-1"

        impostor = FakeServer(honest=False)
        client = await login(impostor)
        assert not impostor.restarted.is_set()  # forged signature: the client hangs up
        assert client.authenticated is False

    asyncio.run(main())


@pytest.mark.parametrize("offered", [("PLAIN",), ("DIGEST-MD5", "PLAIN"), ("ANONYMOUS",)])
def test_xmpp_weaker_than_scram_is_refused(offered: tuple[str, ...]) -> None:
    async def main() -> None:
        server = FakeServer(mechanisms=offered)
        client = await login(server)
        assert b"<auth" not in bytes(server.seen)  # no credential of any kind was sent
        assert client.authenticated is False
        assert client.refusal is not None
        assert client.refusal.startswith("authentication failed: no SCRAM mechanism")

    asyncio.run(main())
