"""The tool-calling loop for one incoming message.

The loop is the only place where model output turns into requests, and it only ever acts on the
model's *structured* tool calls: each one is checked against the tools offered to this requester
(a call to anything else is answered "not available" and never reaches the gateway), then handed
to :meth:`ActionGateway.request`. Text, including text inside tool results, never triggers
anything by itself. After ``max_tool_rounds`` rounds with tool calls the model gets one last call
without tools, so a model that keeps calling tools still ends with an answer.

A gateway that raises (a bug, not a refusal) is logged with an incident id; the model is told the
call failed and the person gets a generic sentence with the id, never the internal error.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from host.agent.actions import ActionGateway, Origin, ToolCall, ToolOutcome, ToolSpec
from host.llm.interface import ChatMessage, Completion, LlmProvider, ToolResult

__all__ = ["AgentLoop", "LoopLimits", "LoopResult"]

log = logging.getLogger(__name__)
LAST_CALL_NOTE = (
    "The limit of tool rounds for this message is reached: answer now in text with what you "
    "have, and say what is left undone."
)
NO_ANSWER = "I could not put an answer together for that. Please rephrase or ask again later."


@dataclass(frozen=True)
class LoopLimits:
    """Bounds of one loop run (see :class:`host.config.LimitsConfig` for the reasons)."""

    max_tool_rounds: int = 6
    max_tool_calls_per_turn: int = 8
    max_tool_result_chars: int = 16_000
    max_tokens: int = 4096


@dataclass(frozen=True)
class LoopResult:
    """The answer, how many tool rounds it took, and every outcome (for logs and tests)."""

    text: str
    rounds: int
    outcomes: tuple[tuple[ToolCall, ToolOutcome], ...]


class AgentLoop:
    """Runs model calls and gateway requests until the model answers in text."""

    def __init__(
        self, provider: LlmProvider, gateway: ActionGateway, limits: LoopLimits | None = None
    ) -> None:
        self.provider = provider
        self.gateway = gateway
        self.limits = limits or LoopLimits()

    async def run(
        self,
        *,
        system: str,
        history: Sequence[ChatMessage],
        requester: str,
        origin: Origin,
        conversation_id: str,
    ) -> LoopResult:
        """Answer the last user message of ``history``. Raises LlmError if the model fails."""
        messages = list(history)
        tools = self.gateway.tools_for(requester)
        offered = {t.name: t for t in tools}
        outcomes: list[tuple[ToolCall, ToolOutcome]] = []
        rounds = 0
        while True:
            last_call = rounds >= self.limits.max_tool_rounds
            completion = await self.provider.complete(
                system=system + ("\n\n" + LAST_CALL_NOTE if last_call and rounds else ""),
                messages=messages,
                tools=[] if last_call else tools,
                max_tokens=self.limits.max_tokens,
            )
            if last_call or not completion.tool_calls:
                # Tool calls made when no tools were offered are ignored: nothing to run them.
                text = completion.text.strip() or NO_ANSWER
                return LoopResult(text=text, rounds=rounds, outcomes=tuple(outcomes))
            rounds += 1
            results = []
            for index, call in enumerate(completion.tool_calls):
                outcome = await self._one_call(
                    call,
                    index=index,
                    offered=offered,
                    requester=requester,
                    origin=origin,
                    conversation_id=conversation_id,
                )
                outcomes.append((call, outcome))
                results.append(
                    ToolResult(
                        call_id=call.id,
                        name=call.name,
                        status=outcome.status,
                        content=outcome.text_for_model[: self.limits.max_tool_result_chars],
                    )
                )
            messages.append(_assistant(completion))
            messages.append(ChatMessage(role="tool", tool_results=tuple(results)))

    async def _one_call(
        self,
        call: ToolCall,
        *,
        index: int,
        offered: dict[str, ToolSpec],
        requester: str,
        origin: Origin,
        conversation_id: str,
    ) -> ToolOutcome:
        if index >= self.limits.max_tool_calls_per_turn:
            return ToolOutcome(
                status="rate_limited",
                text_for_model=(
                    f"Not run: at most {self.limits.max_tool_calls_per_turn} tool calls are "
                    "honoured per turn. Call fewer tools at once."
                ),
            )
        if call.name not in offered:
            available = ", ".join(sorted(offered)) or "none"
            return ToolOutcome(
                status="invalid",
                text_for_model=(
                    f"There is no tool named {call.name!r} available to you. "
                    f"Available tools: {available}."
                ),
            )
        try:
            return await self.gateway.request(
                call, requester=requester, origin=origin, conversation_id=conversation_id
            )
        except Exception:
            incident = secrets.token_hex(4)
            log.exception(
                "gateway failed", extra={"incident": incident, "tool": call.name, "call": call.id}
            )
            return ToolOutcome(
                status="failed",
                text_for_model=(
                    f"The tool {call.name!r} failed because of an internal error (incident "
                    f"{incident}). Tell the user it failed and give them the incident id."
                ),
            )


def _assistant(completion: Completion) -> ChatMessage:
    return ChatMessage(role="assistant", text=completion.text, tool_calls=completion.tool_calls)
