"""What approvers read: the summary is always one plain line, and the core has the last word."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.confirm.wording import clean_summary, prompt_text
from host.errors import ConfirmError

EXPIRES = datetime(2026, 2, 8, 19, 0, tzinfo=UTC)
BLANK = {"Zs", "Zl", "Zp"}
HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text(min_size=1, max_size=600), st.integers(40, 500))
def test_fuzz_summary_is_one_visible_line_within_the_cap(text: str, cap: int) -> None:
    blank = all(ch in "\t\n\r" or unicodedata.category(ch) in BLANK for ch in text)
    if blank:
        with pytest.raises(ConfirmError, match="the action summary is empty"):
            clean_summary(text, cap)
        return
    cleaned = clean_summary(text, cap)
    assert 0 < len(cleaned) <= cap
    assert not any(unicodedata.category(ch) in HIDDEN for ch in cleaned)
    assert cleaned == cleaned.strip()


@given(st.text(min_size=1, max_size=300))
def test_fuzz_prompt_ends_with_the_cores_own_words(text: str) -> None:
    try:
        summary = clean_summary(text, 500)
    except ConfirmError:
        return
    body = prompt_text(
        summary=summary,
        ref="action-7742",
        requester="alice@example.org",
        approver="alice@example.org",
        required=1,
        expires_at=EXPIRES,
    )
    assert body.endswith(
        "? Reply yes or no (or /approve action-7742, /deny action-7742). "
        "Expires 19:00 UTC, ref action-7742."
    )
    assert "\n" not in body


def test_prompt_names_the_requester_for_other_approvers() -> None:
    body = prompt_text(
        summary="Send the draft.",
        ref="action-0815",
        requester="alice@example.org",
        approver="bob@example.org",
        required=2,
        expires_at=EXPIRES,
    )
    assert body == (
        "alice@example.org asks: Send the draft? Reply yes or no (or /approve action-0815, "
        "/deny action-0815). Needs 2 approvals. Expires 19:00 UTC, ref action-0815."
    )


@pytest.mark.parametrize("text", ["", " \n\t", "\u2028\u2029"])
def test_empty_summary_is_refused(text: str) -> None:
    with pytest.raises(ConfirmError, match="the action summary is empty"):
        clean_summary(text, 100)
