"""Human confirmation of destructive actions: durable, single-use, bound to one action.

The transport-independent core: :class:`ConfirmationService` over a
:class:`ConfirmationStore` (one SQLite file). Parsers for the four ways an approver answers are
in :mod:`host.confirm.answers`; the outgoing ``<confirm/>`` element and form in
:mod:`host.confirm.elements`. The wire protocol is in docs/protocol.md.
"""

from __future__ import annotations

from host.confirm.answers import (
    MalformedReply,
    Unclear,
    parse_confirm_response,
    parse_form,
    parse_text,
)
from host.confirm.asking import Asked, Prompt
from host.confirm.models import (
    AnswerResult,
    Channel,
    ClaimOutcome,
    Confirmation,
    Decision,
    Outcome,
    Reply,
    Risk,
    Settings,
    State,
    Target,
)
from host.confirm.service import ConfirmationService
from host.confirm.store import ConfirmationStore

__all__ = [
    "AnswerResult",
    "Asked",
    "Channel",
    "ClaimOutcome",
    "Confirmation",
    "ConfirmationService",
    "ConfirmationStore",
    "Decision",
    "MalformedReply",
    "Outcome",
    "Prompt",
    "Reply",
    "Risk",
    "Settings",
    "State",
    "Target",
    "Unclear",
    "parse_confirm_response",
    "parse_form",
    "parse_text",
]
