"""The :class:`host.gateway.Notifier` over a slixmpp stream: one prompt message per approver.

The message goes to the approver's bare JID (the server delivers it to their online clients)
as ``type='normal'`` with a complete ``<body/>``, the ``<confirm/>`` element and the XEP-0004
form (docs/protocol.md, section 5.4).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from slixmpp import JID

__all__ = ["StreamNotifier"]


class StreamNotifier:
    """Sends confirmation prompts from ``xmpp`` (a component or a client stream)."""

    def __init__(self, xmpp: Any) -> None:
        self._xmpp = xmpp

    async def send(self, to_jid: str, body: str, confirm: ET.Element, form: ET.Element) -> None:
        """Send one prompt to ``to_jid``."""
        msg = self._xmpp.make_message(mto=JID(to_jid), mbody=body, mtype="normal")
        if self._xmpp.is_component:
            msg["from"] = self._xmpp.boundjid
        msg.append(confirm)
        msg.append(form)
        msg.send()
