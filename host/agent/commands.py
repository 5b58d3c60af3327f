"""Slash commands: answered by the host, never sent to the model, cost no model call.

``/new`` (``/reset``), ``/forget``, ``/status``, ``/ping``, ``/help`` as in the Fluux Agent, plus
``/skills`` (the tools the gateway offers this requester) and ``/pending`` (confirmations waiting,
through :class:`host.agent.actions.PendingLister`). Who may run them in rooms is decided at the
XMPP edge; here every command acts on the conversation it was sent in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from host.agent.actions import ActionGateway, PendingLister
from host.agent.memory import Conversation

__all__ = ["COMMANDS", "CommandContext", "is_command", "run_command"]

COMMANDS = {
    "/new": "archive this conversation and start a fresh session (also /reset)",
    "/forget": "erase history, user.md and memory.md (archived sessions are kept)",
    "/status": "uptime, connection mode, model and session statistics",
    "/ping": "check that the agent is alive",
    "/skills": "the skills you may ask for",
    "/pending": "confirmations waiting for you",
    "/help": "this list",
}
ALIASES = {"/reset": "/new"}
MAX_LISTED = 50  # a /skills or /pending reply stays readable in a chat window


def is_command(text: str) -> bool:
    """Whether ``text`` is a slash command (``/word``, not a path like ``/tmp/x``)."""
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return head.startswith("/") and head[1:].isalpha()


@dataclass(frozen=True)
class CommandContext:
    """What a command may look at: this conversation and the read-only host facts."""

    conversation: Conversation
    requester: str
    gateway: ActionGateway
    pending: PendingLister
    mode: str
    model: str
    started: float
    now: Callable[[], datetime]


def run_command(text: str, ctx: CommandContext) -> str:
    """Run the slash command in ``text`` and return the reply."""
    word = text.strip().split(maxsplit=1)[0].lower()
    word = ALIASES.get(word, word)
    if word == "/new":
        archived = ctx.conversation.archive(ctx.now())
        return "New session started." + (" The previous one was archived." if archived else "")
    if word == "/forget":
        ctx.conversation.forget()
        return "Forgotten: history, user.md and memory.md are erased (archived sessions kept)."
    if word == "/ping":
        return "pong"
    if word == "/status":
        return _status(ctx)
    if word == "/skills":
        return _skills(ctx)
    if word == "/pending":
        return _pending(ctx)
    if word == "/help":
        lines = [f"{name}: {what}" for name, what in COMMANDS.items()]
        return "Commands (never sent to the model):\n" + "\n".join(lines)
    return f"Unknown command {word}. Send /help for the list."


def _status(ctx: CommandContext) -> str:
    up = int(time.monotonic() - ctx.started)
    hours, rest = divmod(up, 3600)
    return (
        f"Up {hours}h{rest // 60:02d}m{rest % 60:02d}s, {ctx.mode} mode, model {ctx.model}.\n"
        f"This session: {ctx.conversation.message_count()} messages; "
        f"{ctx.conversation.archived_count()} archived sessions."
    )


def _skills(ctx: CommandContext) -> str:
    tools = ctx.gateway.tools_for(ctx.requester)
    if not tools:
        return "No skills are available to you."
    lines = [f"- {t.name}: {t.description.splitlines()[0] if t.description else ''}" for t in tools]
    more = f"\n(and {len(lines) - MAX_LISTED} more)" if len(lines) > MAX_LISTED else ""
    return "Skills you may ask for:\n" + "\n".join(lines[:MAX_LISTED]) + more


def _pending(ctx: CommandContext) -> str:
    items = ctx.pending.pending_for(ctx.requester)
    if not items:
        return "No confirmations are waiting for you."
    lines = []
    for item in items[:MAX_LISTED]:
        expiry = (
            f" (expires {item.expires_at.isoformat(timespec='minutes')})" if item.expires_at else ""
        )
        lines.append(f"- {item.id}: {item.summary}{expiry}")
    more = f"\n(and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return "Waiting for confirmation:\n" + "\n".join(lines) + more
