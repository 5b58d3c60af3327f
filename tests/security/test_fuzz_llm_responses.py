"""Fuzzing the model providers' response parsing: a compromised provider controls every byte.

The providers are driven through their real SDKs against a local HTTP server that answers with
hostile bodies. Whatever the provider returns, ``complete`` must give a :class:`Completion`
(whose tool calls are data the gateway will validate) or raise :class:`LlmError`, the one error
the agent turns into a clear reply; anything else escapes as an internal failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import LlmError
from host.llm.anthropic import AnthropicProvider
from host.llm.interface import ChatMessage, Completion
from host.llm.ollama import OllamaProvider
from host.xmpp.backoff import Backoff
from tests.fixtures.llm_server import (
    ModelServer,
    Reply,
    anthropic_message,
    model_server,
    ollama_message,
)

# One local HTTP round trip per example: half the profile's examples (50, 100 in CI).
FUZZ = settings(max_examples=settings.default.max_examples // 2)
Provider = OllamaProvider | AnthropicProvider
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(max_size=300),
            "arguments": st.dictionaries(st.text(max_size=10), json_values, max_size=4),
        }
    ),
    max_size=3,
)


class Harness:
    """One local model server, one event loop and one provider of each kind for the module.

    The SDK clients keep connection pools bound to their event loop, so every call runs on the
    same loop instead of a fresh ``asyncio.run`` (which would also make each example slow).
    """

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        backoff = Backoff(base=0.01, cap=0.02)
        self.providers: dict[str, Provider] = {
            "ollama": OllamaProvider(
                model="m", host=server.url, timeout=5, max_retries=0, backoff=backoff
            ),
            "anthropic": AnthropicProvider(
                model="m",
                api_key="test-key",
                base_url=server.url,
                timeout=5,
                max_retries=0,
                backoff=backoff,
            ),
        }

    def answer(self, kind: str, body: Any) -> Completion | LlmError:
        """What provider ``kind`` makes of a 200 response carrying ``body``."""
        self.server.queue(Reply(200, body))
        call = self.providers[kind].complete(
            system="s", messages=[ChatMessage(role="user", text="hi")], tools=[], max_tokens=8
        )
        try:
            return self.loop.run_until_complete(call)
        except LlmError as exc:
            return exc


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with model_server() as server:
        running = Harness(server)
        try:
            yield running
        finally:
            running.loop.close()


@FUZZ
@given(content=st.text(max_size=200), calls=tool_calls)
def test_fuzz_ollama_hostile_values(harness: Harness, content: str, calls: Any) -> None:
    result = harness.answer("ollama", ollama_message(content, calls))
    if isinstance(result, Completion):
        assert result.text == content
        assert [c.name for c in result.tool_calls] == [c["name"] for c in calls]


@FUZZ
@given(
    blocks=st.lists(
        st.one_of(
            st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=100)),
            st.builds(
                lambda i, n, a: {"type": "tool_use", "id": i, "name": n, "input": a},
                st.text(min_size=1, max_size=200),
                st.text(max_size=300),
                st.dictionaries(st.text(max_size=10), json_values, max_size=4),
            ),
        ),
        max_size=4,
    )
)
def test_fuzz_anthropic_hostile_values(harness: Harness, blocks: list[dict[str, Any]]) -> None:
    result = harness.answer("anthropic", anthropic_message(*blocks))
    if isinstance(result, Completion):
        names = [b["name"] for b in blocks if b["type"] == "tool_use"]
        assert [c.name for c in result.tool_calls] == names


MALFORMED = [
    pytest.param("ollama", {**ollama_message("hi"), "message": 5}, id="ollama-message-not-object"),
    pytest.param("ollama", {"model": "m"}, id="ollama-no-message"),
    pytest.param(
        "ollama",
        ollama_message(tool_calls=[{"name": 5, "arguments": []}]),
        id="ollama-tool-call-wrong-types",
    ),
    pytest.param("anthropic", {**anthropic_message(), "content": 5}, id="anthropic-content-number"),
    pytest.param(
        "anthropic", anthropic_message({"type": "text", "text": None}), id="anthropic-text-null"
    ),
]


@pytest.mark.parametrize(("kind", "body"), MALFORMED)
def test_malformed_response_is_an_llm_error(harness: Harness, kind: str, body: Any) -> None:
    assert isinstance(harness.answer(kind, body), LlmError)
