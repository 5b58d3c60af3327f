"""Anthropic Claude through the official client (Messages API, tool use, non-streaming).

The SDK's own retries are off: :func:`host.llm.retry.call_with_retries` retries 429, 5xx
(529 "overloaded" included), timeouts and connection errors a bounded number of times, honouring
``retry-after``. Other HTTP errors (400 bad request, 401 key, ...) fail at once with an
:class:`LlmError` naming the status and error type, never the key or the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anthropic
from pydantic import ValidationError

from host.agent.actions import ToolCall, ToolSpec
from host.errors import LlmError
from host.llm.interface import ChatMessage, Completion
from host.llm.retry import Transient, call_with_retries
from host.llm.shape import unexpected_shape
from host.xmpp.backoff import Backoff

__all__ = ["AnthropicProvider", "to_anthropic_messages"]


class AnthropicProvider:
    """Claude via ``anthropic.AsyncAnthropic``."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    @property
    def description(self) -> str:
        """Shown by ``/status``."""
        return f"anthropic {self.model}"

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec],
        max_tokens: int,
    ) -> Completion:
        """One Messages API call (retried on transient failures)."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": to_anthropic_messages(messages),
        }
        if tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]

        async def attempt() -> Completion:
            try:
                response = await self.client.messages.create(**kwargs)
            except anthropic.APIStatusError as exc:
                raise _classify(exc) from None
            except anthropic.APITimeoutError:
                raise Transient("timed out") from None
            except anthropic.APIConnectionError:
                raise Transient("connection failed") from None
            except ValidationError as exc:
                raise unexpected_shape("anthropic", exc) from None
            return _parse(response.content)

        self.backoff.reset()
        return await call_with_retries(
            attempt, provider="anthropic", max_retries=self.max_retries, backoff=self.backoff
        )


def _classify(exc: anthropic.APIStatusError) -> Exception:
    status = exc.status_code
    kind = ""
    if isinstance(exc.body, dict):
        error = exc.body.get("error")
        if isinstance(error, dict):
            kind = str(error.get("type", ""))[:64]
    reason = f"HTTP {status}" + (f" {kind}" if kind else "")
    if status == 429 or status >= 500 or status == 408:
        retry_after = exc.response.headers.get("retry-after")
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        return Transient(reason, retry_after=wait)
    return LlmError(
        f"anthropic refused the request: {reason}",
        hint="check [llm] model and api_key" if status in (401, 403, 404) else None,
    )


def _parse(blocks: Sequence[Any]) -> Completion:
    texts: list[str] = []
    calls: list[ToolCall] = []
    # The SDK builds responses without strict validation: a hostile or broken server can send
    # any shape, and every surprise must end as an LlmError, never as an internal crash.
    try:
        for block in blocks:
            if block.type == "text":
                if not isinstance(block.text, str):
                    raise TypeError("text block without text")
                texts.append(block.text)
            elif block.type == "tool_use":
                args = block.input if isinstance(block.input, dict) else {"input": block.input}
                calls.append(ToolCall(id=block.id, name=block.name, arguments=args))
    except (ValidationError, TypeError, AttributeError) as exc:
        raise unexpected_shape("anthropic", exc) from None
    return Completion(text="".join(texts), tool_calls=tuple(calls))


def to_anthropic_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Our turns in the Messages API shape (tool results as ``tool_result`` user blocks)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": m.text})
        elif m.role == "assistant":
            content: list[dict[str, Any]] = []
            if m.text:
                content.append({"type": "text", "text": m.text})
            content.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in m.tool_calls
            )
            out.append({"role": "assistant", "content": content or m.text})
        else:
            out.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": r.call_id,
                            "content": r.for_model(),
                            "is_error": r.is_error,
                        }
                        for r in m.tool_results
                    ],
                }
            )
    return out
