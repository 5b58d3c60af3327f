"""Ollama (local models) through the official client: ``/api/chat`` with tools, non-streaming.

Ollama does not give tool calls ids; the provider numbers them so the loop can pair results.
Retries as for every provider (:mod:`host.llm.retry`): 429, 5xx, timeouts and an unreachable
server are retried a bounded number of times, other errors fail at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import httpx
import ollama
from pydantic import ValidationError

from host.agent.actions import ToolCall, ToolSpec
from host.errors import LlmError
from host.llm.interface import ChatMessage, Completion
from host.llm.retry import Transient, call_with_retries
from host.llm.shape import unexpected_shape
from host.xmpp.backoff import Backoff

__all__ = ["OllamaProvider", "to_ollama_messages"]

DEFAULT_HOST = "http://localhost:11434"


class OllamaProvider:
    """A local model via ``ollama.AsyncClient``."""

    def __init__(
        self,
        *,
        model: str,
        host: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self.client = ollama.AsyncClient(host=host or DEFAULT_HOST, timeout=timeout)
        self._ids = itertools.count(1)

    @property
    def description(self) -> str:
        """Shown by ``/status``."""
        return f"ollama {self.model}"

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec],
        max_tokens: int,
    ) -> Completion:
        """One chat call (retried on transient failures)."""
        payload = [{"role": "system", "content": system}, *to_ollama_messages(messages)]
        tool_defs = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in tools
        ]

        async def attempt() -> Completion:
            try:
                response = await self.client.chat(
                    model=self.model,
                    messages=payload,
                    tools=tool_defs or None,
                    options={"num_predict": max_tokens},
                    stream=False,
                )
            except ollama.ResponseError as exc:
                reason = f"HTTP {exc.status_code}: {str(exc.error)[:120]}"
                if exc.status_code == 429 or exc.status_code >= 500:
                    raise Transient(reason) from None
                raise LlmError(
                    f"ollama refused the request: {reason}",
                    hint="is the model pulled? (ollama pull <model>)"
                    if exc.status_code == 404
                    else None,
                ) from None
            except httpx.TimeoutException:
                raise Transient("timed out") from None
            except ConnectionError:
                raise Transient("cannot connect to the Ollama server") from None
            except ValidationError as exc:
                raise unexpected_shape("ollama", exc) from None
            return self._parse(response.message)

        self.backoff.reset()
        return await call_with_retries(
            attempt, provider="ollama", max_retries=self.max_retries, backoff=self.backoff
        )

    def _parse(self, message: Any) -> Completion:
        calls = []
        # A hostile or broken server can send any shape: every surprise is an LlmError.
        try:
            if not isinstance(message.content or "", str):
                raise TypeError("message content is not text")
            for call in message.tool_calls or []:
                args = call.function.arguments
                calls.append(
                    ToolCall(
                        id=f"ollama-{next(self._ids)}",
                        name=call.function.name,
                        arguments=dict(args) if isinstance(args, dict) else {"input": args},
                    )
                )
        except (ValidationError, TypeError, AttributeError) as exc:
            raise unexpected_shape("ollama", exc) from None
        return Completion(text=message.content or "", tool_calls=tuple(calls))


def to_ollama_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Our turns in Ollama's chat shape (tool results as ``tool`` messages)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": m.text})
        elif m.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": m.text}
            if m.tool_calls:
                entry["tool_calls"] = [
                    {"function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls
                ]
            out.append(entry)
        else:
            out.extend(
                {"role": "tool", "content": r.for_model(), "tool_name": r.name}
                for r in m.tool_results
            )
    return out
