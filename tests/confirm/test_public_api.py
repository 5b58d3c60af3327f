"""The package's public names: sorted, importable, and no accidental additions."""

from __future__ import annotations

import host.confirm


def test_public_api_is_exactly_this() -> None:
    assert host.confirm.__all__ == [
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
    for name in host.confirm.__all__:
        assert getattr(host.confirm, name) is not None
