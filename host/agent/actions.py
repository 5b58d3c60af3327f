"""The port between the agent loop and the capability path (policy, confirm, sandbox, audit).

The agent never runs anything itself. It shows the model the tools an :class:`ActionGateway`
offers for one requester, turns every structured tool call the model makes into
``gateway.request(...)`` and hands the :class:`ToolOutcome` back to the model. Whatever
implements the gateway decides, confirms, runs and audits. Until the real one is wired,
:class:`NoActionsGateway` offers nothing and refuses everything (default deny).

:class:`PendingLister` is the small port through which ``/pending`` lists confirmations waiting
for a person; the confirmation subsystem implements it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ActionGateway",
    "NoActionsGateway",
    "NoPending",
    "Origin",
    "OutcomeStatus",
    "PendingItem",
    "PendingLister",
    "ToolCall",
    "ToolOutcome",
    "ToolSpec",
]

Origin = Literal["chat", "room", "protocol"]
OutcomeStatus = Literal[
    "done", "denied", "not_confirmed", "invalid", "failed", "rate_limited", "pending"
]
TOOL_NAME = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


class ToolSpec(BaseModel):
    """A tool as the model sees it: a skill's name, description and JSON Schema parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=TOOL_NAME)]
    description: Annotated[str, Field(max_length=4096)]
    parameters: dict[str, Any]


class ToolCall(BaseModel):
    """What the model asked for. Untrusted: the gateway validates it against the skill."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(max_length=256)]
    arguments: dict[str, Any] = {}


class ToolOutcome(BaseModel):
    """How a tool call ended, in words the model can act on.

    ``text_for_model`` goes back to the model as the tool result (the agent marks it as
    untrusted data). ``request_id`` is the audit id of the request, when one was made.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: OutcomeStatus
    text_for_model: str
    request_id: str | None = None


class ActionGateway(Protocol):
    """Everything the agent may ask of the capability path."""

    def tools_for(self, requester: str) -> list[ToolSpec]:
        """Skills this requester's policy could ever allow; the model is told about no others."""
        ...

    async def request(
        self, call: ToolCall, *, requester: str, origin: Origin, conversation_id: str
    ) -> ToolOutcome:
        """Validate, decide, confirm if needed, run and audit one call; never raises for a
        refusal (that is an outcome), only for a broken gateway."""
        ...


class NoActionsGateway:
    """A gateway with no skills: the model is offered no tools and every call is denied.

    This is what ``airlock serve`` uses with ``[airlock] actions = false`` (chat only); it
    refuses, it never pretends to act.
    """

    def tools_for(self, requester: str) -> list[ToolSpec]:
        """No tools for anyone."""
        return []

    async def request(
        self, call: ToolCall, *, requester: str, origin: Origin, conversation_id: str
    ) -> ToolOutcome:
        """Deny: no skill is configured."""
        return ToolOutcome(
            status="denied",
            text_for_model=f"The tool {call.name!r} is not available: no skills are configured.",
        )


class PendingItem(BaseModel):
    """One confirmation waiting for a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    summary: Annotated[str, Field(max_length=1024)]
    expires_at: datetime | None = None


class PendingLister(Protocol):
    """Lists confirmations that wait for ``requester`` (as approver or as the one who asked)."""

    def pending_for(self, requester: str) -> list[PendingItem]:
        """The waiting confirmations, oldest first."""
        ...


class NoPending:
    """The lister used when no confirmation subsystem is wired: nothing is ever pending."""

    def pending_for(self, requester: str) -> list[PendingItem]:
        """Always empty."""
        return []
