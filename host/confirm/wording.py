"""What the approver reads: the prompt, and the answer to each reply.

The summary of an action is built by the pipeline from model-chosen arguments (a file name, a
recipient), so it is untrusted text shown to the one person whose judgement matters. It is made
plain before it is shown: control characters cannot start fake lines ("...\\nref action-0001"),
and bidirectional overrides or zero-width characters cannot make ``evil.exe`` look like
``exe.live``; both are replaced by a visible ``<U+XXXX>`` mark.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from host.confirm.models import Confirmation, Decision, State
from host.errors import ConfirmError

ELLIPSIS = "…"


def clean_summary(text: str, max_chars: int) -> str:
    """``text`` on one line, with invisible or line-breaking characters made visible, cut to
    ``max_chars``. Raises ConfirmError if nothing readable is left."""
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r" or category == "Zl" or category == "Zp":
            out.append(" ")
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    if not cleaned:
        raise ConfirmError(
            "the action summary is empty", hint="describe the action in words for the approver"
        )
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1].rstrip() + ELLIPSIS
    return cleaned


def clock(moment: datetime) -> str:
    """``19:00 UTC``: the expiry as people read it (expiries are at most a day away)."""
    return moment.strftime("%H:%M UTC")


def prompt_text(
    *,
    summary: str,
    ref: str,
    requester: str,
    approver: str,
    required: int,
    expires_at: datetime,
) -> str:
    """The plain-text body any XMPP client shows, e.g. ``Delete notes/2026.md in your
    workspace? Reply yes or no. Expires 19:00 UTC, ref action-7742.``"""
    question = summary.rstrip(" .!?") + "?"
    who = "" if requester == approver else f"{requester} asks: "
    quorum = f" Needs {required} approvals." if required > 1 else ""
    return (
        f"{who}{question} Reply yes or no (or /approve {ref}, /deny {ref}).{quorum} "
        f"Expires {clock(expires_at)}, ref {ref}."
    )


def listing(confirmations: list[Confirmation]) -> str:
    """One line per confirmation, for ``/pending`` and for "which one?" replies."""
    return "\n".join(f"{c.ref}: {c.summary} ({_status(c)})" for c in confirmations)


def _status(c: Confirmation) -> str:
    if c.state is State.PENDING:
        return f"expires {clock(c.expires_at)}"
    if c.state is State.EXPIRED:
        return f"expired at {clock(c.expires_at)}"
    return f"already {c.state.value}"


def accepted(c: Confirmation) -> str:
    missing = c.required - c.yes_count()
    return f"Noted your yes for {c.ref}; waiting for {missing} more approval(s)."


def approved(c: Confirmation) -> str:
    return f"Approved {c.ref}."


def denied(c: Confirmation) -> str:
    return f"Denied {c.ref}; it will not run."


def already_decided(c: Confirmation) -> str:
    return f"{c.ref} was already decided ({c.state.value}); your answer changes nothing."


def already_answered(c: Confirmation, previous: Decision) -> str:
    return (
        f"You already answered {c.ref} ({previous.value}); approvals count distinct people, "
        "so a second answer changes nothing."
    )


def expired(c: Confirmation) -> str:
    return f"{c.ref} expired at {clock(c.expires_at)}; nothing was done."


def not_found(target: str) -> str:
    # The same words for "no such ref" and "not yours": a reply is no oracle for which refs exist.
    return f"No confirmation {target} is waiting for you."


NOTHING_PENDING = "Nothing is waiting for your confirmation."
REFUSED_CHANNEL = (
    "Confirmations only count when an approver answers in a direct chat with the agent "
    "(not in a group chat, and never from the model or a skill's output)."
)


def ambiguous(candidates: list[Confirmation]) -> str:
    return (
        "Your answer could be meant for more than one confirmation; "
        "answer one with /approve REF or /deny REF:\n" + listing(candidates)
    )
