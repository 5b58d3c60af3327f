"""Protocol refusals as XMPP errors: an RFC 6120 condition, a type, a text for people.

Texts are written for the person whose client shows them; they never carry paths, policy text
or internals (docs/protocol.md, section 8). An application condition, when there is one, is an
extra element (``<denied/>`` or ``<expired/>`` in the ``#confirm`` namespace).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Literal

from host.errors import XmppError

__all__ = ["ErrorType", "ProtocolError", "reply_error"]

ErrorType = Literal["auth", "cancel", "continue", "modify", "wait"]


class ProtocolError(XmppError):
    """A request refused on the wire with ``condition`` (and ``etype``)."""

    def __init__(
        self,
        condition: str,
        etype: ErrorType,
        text: str,
        *,
        app: ET.Element | None = None,
    ) -> None:
        super().__init__(text)
        self.condition = condition
        self.etype: ErrorType = etype
        self.text = text
        self.app = app

    @classmethod
    def bad_request(cls, text: str) -> ProtocolError:
        """Malformed input, or a value that does not fit the schema (``modify``)."""
        return cls("bad-request", "modify", text)


def reply_error(iq: Any, error: ProtocolError) -> None:
    """Answer the slixmpp ``iq`` with ``error``: condition, type, text, application condition."""
    reply = iq.reply(clear=True)
    reply["error"]["type"] = error.etype
    reply["error"]["condition"] = error.condition
    reply["error"]["text"] = error.text
    if error.app is not None:
        reply["error"].xml.append(error.app)
    reply.send()
