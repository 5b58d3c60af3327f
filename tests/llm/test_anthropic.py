"""The Anthropic provider through the official client, against a local Messages API."""

from __future__ import annotations

import asyncio

import pytest

from host.agent.loop import AgentLoop
from host.errors import LlmError
from host.llm.anthropic import AnthropicProvider
from host.llm.interface import ChatMessage
from host.xmpp.backoff import Backoff
from tests.fixtures.gateway import echo_gateway
from tests.fixtures.llm_server import (
    ModelServer,
    Reply,
    anthropic_error,
    anthropic_message,
    model_server,
)


def provider(server: ModelServer, retries: int = 2) -> AnthropicProvider:
    return AnthropicProvider(
        model="claude-test",
        api_key="sk-ant-test-key",
        base_url=server.url,
        timeout=5,
        max_retries=retries,
        backoff=Backoff(base=0.01, cap=0.05),
    )


def ask(p: AnthropicProvider, text: str = "hi") -> str:
    loop = AgentLoop(p, echo_gateway())
    result = asyncio.run(
        loop.run(
            system="be brief",
            history=[ChatMessage(role="user", text=text)],
            requester="alice@x",
            origin="chat",
            conversation_id="alice@x",
        )
    )
    return result.text


def test_tool_use_round_trip_on_the_wire() -> None:
    with model_server() as server:
        server.queue(
            Reply(
                200,
                anthropic_message(
                    {"type": "text", "text": "Let me shout."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "upper",
                        "input": {"text": "abc"},
                    },
                    stop="tool_use",
                ),
            ),
            Reply(200, anthropic_message({"type": "text", "text": "It is ABC."})),
        )
        assert ask(provider(server), "shout abc") == "It is ABC."
        first, second = server.requests
    assert first.path == "/v1/messages"
    # The key travels in x-api-key or (newer SDKs) a bearer header; either way, only there.
    credential = first.headers.get("x-api-key") or first.headers.get("authorization", "")
    assert credential.endswith("sk-ant-test-key")
    assert first.body["model"] == "claude-test"
    assert first.body["max_tokens"] == 4096
    assert first.body["system"] == "be brief"
    assert first.body["messages"] == [{"role": "user", "content": "shout abc"}]
    assert [t["name"] for t in first.body["tools"]] == ["echo", "rm", "upper"]
    assert first.body["tools"][0]["input_schema"]["required"] == ["text"]
    assistant, results = second.body["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me shout."},
            {"type": "tool_use", "id": "toolu_1", "name": "upper", "input": {"text": "abc"}},
        ],
    }
    block = results["content"][0]
    assert results["role"] == "user"
    assert block["type"] == "tool_result"
    assert block["tool_use_id"] == "toolu_1"
    assert block["is_error"] is False
    assert "\nABC\n" in block["content"]
    assert "untrusted data" in block["content"]


def test_429_then_200_is_retried() -> None:
    with model_server() as server:
        server.queue(
            Reply(429, anthropic_error("rate_limit_error", "slow down"), {"retry-after": "0"}),
            Reply(200, anthropic_message({"type": "text", "text": "ok"})),
        )
        assert ask(provider(server)) == "ok"
        assert len(server.requests) == 2


def test_500s_exhaust_the_bounded_retries() -> None:
    with model_server() as server:
        server.queue(*[Reply(500, anthropic_error("api_error", "internal"))] * 5)
        with pytest.raises(LlmError) as err:
            ask(provider(server, retries=2))
        assert err.value.message == "anthropic failed after 3 attempts: HTTP 500 api_error"
        assert len(server.requests) == 3


def test_overloaded_529_is_transient() -> None:
    with model_server() as server:
        server.queue(
            Reply(529, anthropic_error("overloaded_error", "busy")),
            Reply(200, anthropic_message({"type": "text", "text": "back"})),
        )
        assert ask(provider(server)) == "back"


def test_401_fails_at_once_without_leaking_the_key() -> None:
    with model_server() as server:
        server.queue(Reply(401, anthropic_error("authentication_error", "invalid x-api-key")))
        with pytest.raises(LlmError) as err:
            ask(provider(server))
        assert err.value.message == "anthropic refused the request: HTTP 401 authentication_error"
        assert "sk-ant-test-key" not in str(err.value)
        assert len(server.requests) == 1


def test_unreachable_server_is_retried_then_fails() -> None:
    with model_server() as server:
        url = server.url
    p = AnthropicProvider(
        model="m",
        api_key="k",
        base_url=url,
        timeout=2,
        max_retries=1,
        backoff=Backoff(base=0.01, cap=0.02),
    )
    with pytest.raises(LlmError) as err:
        ask(p)
    assert err.value.message == "anthropic failed after 2 attempts: connection failed"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**anthropic_message(), "content": 5}, "'int' object is not iterable"),
        (anthropic_message({"type": "text", "text": None}), "text block without text"),
        (
            anthropic_message({"type": "tool_use", "id": "x" * 500, "name": "echo", "input": {}}),
            "`id`: String should have at most 128 characters",
        ),
    ],
)
def test_response_of_unexpected_shape_is_an_llm_error(body: dict[str, object], reason: str) -> None:
    with model_server() as server:
        server.queue(Reply(200, body))
        with pytest.raises(LlmError) as err:
            ask(provider(server))
    assert err.value.message == f"anthropic returned a response of an unexpected shape: {reason}"
    assert "x" * 129 not in str(err.value)
