"""The Ollama provider through the official client, against a local /api/chat."""

from __future__ import annotations

import asyncio

import pytest

from host.agent.loop import AgentLoop
from host.errors import LlmError
from host.llm.interface import ChatMessage
from host.llm.ollama import OllamaProvider
from host.xmpp.backoff import Backoff
from tests.fixtures.gateway import echo_gateway
from tests.fixtures.llm_server import Reply, model_server, ollama_message


def provider(server_url: str, retries: int = 2) -> OllamaProvider:
    return OllamaProvider(
        model="llama3.2",
        host=server_url,
        timeout=5,
        max_retries=retries,
        backoff=Backoff(base=0.01, cap=0.05),
    )


def ask(p: OllamaProvider, text: str = "hi") -> str:
    result = asyncio.run(
        AgentLoop(p, echo_gateway()).run(
            system="be brief",
            history=[ChatMessage(role="user", text=text)],
            requester="alice@x",
            origin="chat",
            conversation_id="alice@x",
        )
    )
    return result.text


def test_tool_call_round_trip_on_the_wire() -> None:
    with model_server() as server:
        server.queue(
            Reply(
                200, ollama_message(tool_calls=[{"name": "upper", "arguments": {"text": "abc"}}])
            ),
            Reply(200, ollama_message("It is ABC.")),
        )
        assert ask(provider(server.url), "shout abc") == "It is ABC."
        first, second = server.requests
    assert first.path == "/api/chat"
    assert first.body["model"] == "llama3.2"
    assert first.body["stream"] is False
    assert first.body["options"]["num_predict"] == 4096
    assert first.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert first.body["messages"][1] == {"role": "user", "content": "shout abc"}
    assert [t["function"]["name"] for t in first.body["tools"]] == ["echo", "rm", "upper"]
    assistant, tool = second.body["messages"][2:]
    assert assistant["tool_calls"] == [
        {"function": {"name": "upper", "arguments": {"text": "abc"}}}
    ]
    assert tool["role"] == "tool"
    assert tool["tool_name"] == "upper"
    assert "\nABC\n" in tool["content"]
    assert "untrusted data" in tool["content"]


def test_429_then_200_is_retried() -> None:
    with model_server() as server:
        server.queue(Reply(429, {"error": "busy"}), Reply(200, ollama_message("ok")))
        assert ask(provider(server.url)) == "ok"
        assert len(server.requests) == 2


def test_500s_exhaust_the_bounded_retries() -> None:
    with model_server() as server:
        server.queue(*[Reply(500, {"error": "model crashed"})] * 5)
        with pytest.raises(LlmError) as err:
            ask(provider(server.url, retries=2))
        assert err.value.message == "ollama failed after 3 attempts: HTTP 500: model crashed"
        assert len(server.requests) == 3


def test_missing_model_fails_at_once_with_hint() -> None:
    with model_server() as server:
        server.queue(Reply(404, {"error": "model 'llama3.2' not found"}))
        with pytest.raises(LlmError) as err:
            ask(provider(server.url))
        assert (
            err.value.message == "ollama refused the request: HTTP 404: model 'llama3.2' not found"
        )
        assert err.value.hint == "is the model pulled? (ollama pull <model>)"
        assert len(server.requests) == 1


def test_unreachable_server_is_retried_then_fails() -> None:
    with model_server() as server:
        url = server.url
    with pytest.raises(LlmError) as err:
        ask(provider(url, retries=1))
    assert (
        err.value.message == "ollama failed after 2 attempts: cannot connect to the Ollama server"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {**ollama_message("hi"), "message": 5},
            "`message`: Input should be a valid dictionary or instance of Message",
        ),
        ({"model": "m"}, "`message`: Field required"),
        (
            ollama_message(tool_calls=[{"name": 5, "arguments": []}]),
            "`message.tool_calls.0.function.name`: Input should be a valid string",
        ),
    ],
)
def test_response_of_unexpected_shape_is_an_llm_error(body: dict[str, object], reason: str) -> None:
    with model_server() as server:
        server.queue(Reply(200, body))
        with pytest.raises(LlmError) as err:
            ask(provider(server.url))
    assert err.value.message == f"ollama returned a response of an unexpected shape: {reason}"
    assert err.value.hint == (
        "check that [llm] points at a real ollama server and the client library is current"
    )
