"""The agent protocol ``urn:fluux:agent:0`` on the wire (docs/protocol.md), transport side.

Pure modules: :mod:`~host.protocol.forms` (JSON Schema <-> XEP-0004), :mod:`~host.protocol.execute`
(the ``#execute`` element, results and error mapping), :mod:`~host.protocol.skills` (the
``#skills`` result). Over slixmpp: :mod:`~host.protocol.handlers` (IQ, message, disco),
:mod:`~host.protocol.commands` (XEP-0050), :mod:`~host.protocol.routing` (answers to
confirmations, which the XMPP edge routes before the agent sees a chat message).
"""

from __future__ import annotations

from host.protocol.handlers import ProtocolHandlers
from host.protocol.routing import ConfirmationRouter, Routed

__all__ = ["ConfirmationRouter", "ProtocolHandlers", "Routed"]
