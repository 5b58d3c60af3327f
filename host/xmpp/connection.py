"""Building the slixmpp stream for either connection mode, with Airlock's transport rules.

- Component mode (XEP-0114): the production setup; the agent is a subdomain of the server.
- Client mode (C2S): the agent logs in as a user. STARTTLS is required (a server that does not
  offer it is refused before any credential is used) unless ``unsafe_allow_plaintext``; SASL is
  limited to SCRAM, whose final server signature slixmpp verifies (a server that does not know the
  password cannot pass), unless ``unsafe_allow_weak_sasl``. XEP-0198 stream management is on, so
  stanzas in flight survive a reconnect.

Both modes answer XEP-0030 disco, XEP-0199 ping and XEP-0092 version, send keepalive pings, and
answer every other ``get``/``set`` IQ with ``service-unavailable`` (RFC 6120 8.4) instead of
slixmpp's ``feature-not-implemented``, giving nothing away about what is installed.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from slixmpp import ClientXMPP, ComponentXMPP
from slixmpp.stanza import Iq

from host import __version__
from host.config import ServerConfig
from host.errors import XmppError

__all__ = ["SCRAM_MECHANISMS", "AirlockClient", "AirlockComponent", "build_stream"]

log = logging.getLogger(__name__)

SCRAM_MECHANISMS = frozenset(
    {"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}
)
WEAK_MECHANISMS = SCRAM_MECHANISMS | {"PLAIN"}
PING_TIMEOUT_SECS = 20.0  # a keepalive ping unanswered this long means the path is dead


class AirlockIq(Iq):
    """An IQ whose unhandled ``get``/``set`` is answered ``service-unavailable``."""

    def unhandled(self) -> None:
        if self["type"] in ("get", "set"):
            reply = self.reply()  # type: ignore[no-untyped-call]
            reply["error"]["type"] = "cancel"
            reply["error"]["condition"] = "service-unavailable"
            reply.send()


def _common_setup(xmpp: Any, cfg: ServerConfig, name: str, rooms: bool) -> None:
    xmpp.remove_stanza(Iq)
    xmpp.register_stanza(AirlockIq)
    xmpp.register_plugin("xep_0030")
    if rooms:
        # Only with rooms configured: the MUC plugin inspects every stanza, which costs a
        # one-to-one agent a measurable share of its per-message time.
        xmpp.register_plugin("xep_0045")
    xmpp.register_plugin("xep_0092", {"software_name": "Airlock", "version": __version__})
    xmpp.register_plugin(
        "xep_0199",
        {"keepalive": True, "interval": cfg.keepalive_secs, "timeout": PING_TIMEOUT_SECS},
    )
    xmpp.register_plugin("xep_0203")  # delayed delivery: room history is recognised, not answered
    xmpp.plugin["xep_0030"].add_identity(category="client", itype="bot", name=name)


class AirlockComponent(ComponentXMPP):
    """An external component (XEP-0114)."""

    def __init__(self, cfg: ServerConfig, name: str, *, rooms: bool = True) -> None:
        assert cfg.component_domain is not None
        assert cfg.component_secret is not None
        super().__init__(  # type: ignore[no-untyped-call]
            cfg.component_domain,
            cfg.component_secret.get_secret_value(),
            cfg.host,
            cfg.effective_port,
        )
        _common_setup(self, cfg, name, rooms)


class AirlockClient(ClientXMPP):
    """A client (C2S) connection with TLS and SASL rules enforced."""

    def __init__(self, cfg: ServerConfig, name: str, *, rooms: bool = True) -> None:
        assert cfg.jid is not None
        assert cfg.password is not None
        mechanisms = WEAK_MECHANISMS if cfg.unsafe_allow_weak_sasl else SCRAM_MECHANISMS
        sasl = {
            "use_mechs": set(mechanisms),
            # PLAIN, when allowed at all, only ever over TLS.
            "unencrypted_plain": False,
            "unencrypted_scram": cfg.unsafe_allow_plaintext,
        }
        super().__init__(
            f"{cfg.jid}/{cfg.resource}",
            cfg.password.get_secret_value(),
            plugin_config={"feature_mechanisms": sasl},
        )
        # One way in: plain TCP to host:port, then STARTTLS (direct TLS would be a second port
        # and a second set of rules to get right).
        self.enable_direct_tls = False
        self.allow_plaintext = cfg.unsafe_allow_plaintext
        self.refusal: str | None = None
        if not cfg.tls_verify:
            log.warning("tls_verify = false: the server's certificate is not checked")
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        elif cfg.tls_ca_file is not None:
            self.ca_certs = cfg.tls_ca_file
        _common_setup(self, cfg, name, rooms)
        self.register_plugin("xep_0198", {"allow_resume": True, "window": 5})
        self.add_event_handler("failed_all_auth", self._auth_failed)
        # Handled here, slixmpp leaves the stream to us: refuse for good (retrying cannot fix a
        # certificate) before any credential is sent.
        self.add_event_handler("ssl_invalid_chain", self._certificate_refused)

    def _certificate_refused(self, error: Exception) -> None:
        reason = getattr(error, "verify_message", None) or str(error) or type(error).__name__
        self.refusal = (
            f"the server's TLS certificate failed verification ({reason}); for a self-signed or "
            "private-CA server set tls_ca_file to its certificate or CA"
        )
        log.error(self.refusal)
        self.event("airlock_refused", self.refusal)
        self.abort()

    def _auth_failed(self, _event: Any) -> None:
        self.refusal = self.refusal or (
            "authentication failed: no SCRAM mechanism was accepted (wrong password, or the "
            "server offers none; unsafe_allow_weak_sasl permits PLAIN over TLS)"
        )

    async def _handle_stream_features(self, features: Any) -> bool | None:
        # Before anything else in a not-yet-encrypted, not-yet-authenticated stream: a server
        # that does not offer STARTTLS is refused, so no credential ever crosses in clear.
        if (
            not self.allow_plaintext
            and not self.authenticated
            and not isinstance(self.socket, ssl.SSLObject | ssl.SSLSocket)
            and "starttls" not in features["features"]
        ):
            self.refusal = (
                "the server did not offer STARTTLS; refusing to authenticate in clear text "
                "(set unsafe_allow_plaintext = true only on a trusted local link)"
            )
            log.error(self.refusal)
            self.event("airlock_refused", self.refusal)
            self.abort()
            return True
        result: bool | None = await super()._handle_stream_features(features)
        return result


def build_stream(
    cfg: ServerConfig, name: str, *, rooms: bool = True
) -> AirlockComponent | AirlockClient:
    """The slixmpp stream for ``cfg.mode``; ``rooms`` loads group chat (XEP-0045) support."""
    if cfg.mode == "component":
        return AirlockComponent(cfg, name, rooms=rooms)
    if cfg.mode == "client":
        return AirlockClient(cfg, name, rooms=rooms)
    raise XmppError(f"unknown connection mode {cfg.mode!r}", hint="use 'component' or 'client'")
