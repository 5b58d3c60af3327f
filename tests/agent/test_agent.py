from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from host.agent.actions import PendingItem
from host.agent.agent import Agent, Inbound
from host.agent.commands import is_command
from host.agent.memory import MemoryStore
from host.errors import LlmError
from host.llm.interface import Completion
from tests.fixtures.gateway import ListPending, echo_gateway
from tests.fixtures.scripts import scripted, tool_then_answer

A = "alice@example.org"


def make_agent(tmp_path: Path, provider: Any = None, **kw: Any) -> Agent:
    return Agent(
        memory=MemoryStore(tmp_path, idle_timeout_mins=60),
        provider=provider or scripted({"turns": [{"text": "You said: {user}"}]}),
        gateway=kw.pop("gateway", echo_gateway()),
        **kw,
    )


def ask(agent: Agent, text: str, **kw: Any) -> str | None:
    return asyncio.run(
        agent.handle(Inbound(conversation=kw.pop("conv", A), requester=A, text=text, **kw))
    )


class CountingProvider:
    def __init__(self) -> None:
        self.calls = 0

    @property
    def description(self) -> str:
        return "counting"

    async def complete(self, **kwargs: Any) -> Completion:
        self.calls += 1
        return Completion(text="model answer")


def test_message_is_answered_and_recorded(tmp_path: Path) -> None:
    agent = make_agent(tmp_path)
    assert ask(agent, "hello") == "You said: hello"
    conv = agent.memory.conversation(A)
    assert [(t.role, t.text) for t in conv.turns(10)] == [
        ("user", "hello"),
        ("assistant", "You said: hello"),
    ]


def test_end_to_end_tool_call_with_fake_gateway(tmp_path: Path) -> None:
    gw = echo_gateway()
    agent = make_agent(
        tmp_path, tool_then_answer("upper", {"text": "airlock"}, "It is {tool_result}."), gateway=gw
    )
    assert ask(agent, "shout airlock") == "It is AIRLOCK."
    assert gw.received[0].requester == A
    assert gw.received[0].conversation_id == A


def test_slash_commands_never_reach_the_model(tmp_path: Path) -> None:
    provider = CountingProvider()
    agent = make_agent(tmp_path, provider)
    assert ask(agent, "/ping") == "pong"
    assert "/skills" in (ask(agent, "/help") or "")
    assert ask(agent, "/frobnicate") == "Unknown command /frobnicate. Send /help for the list."
    assert provider.calls == 0
    assert agent.memory.conversation(A).message_count() == 0


def test_new_archives_and_status_counts(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, CountingProvider(), mode="client")
    ask(agent, "one")
    status = ask(agent, "/status") or ""
    assert "client mode, model counting." in status
    assert "This session: 2 messages; 0 archived sessions." in status
    assert ask(agent, "/reset") == "New session started. The previous one was archived."
    assert "This session: 0 messages; 1 archived sessions." in (ask(agent, "/status") or "")
    assert ask(agent, "/new") == "New session started."


def test_skills_lists_only_what_gateway_offers_this_requester(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, gateway=echo_gateway(requesters={"bob@example.org"}))
    assert ask(agent, "/skills") == "No skills are available to you."
    agent = make_agent(tmp_path, gateway=echo_gateway())
    assert ask(agent, "/skills") == (
        "Skills you may ask for:\n- echo: Echo the text back.\n- rm: Delete a file.\n"
        "- upper: Upper-case the text."
    )


def test_pending_shows_what_the_lister_returns(tmp_path: Path) -> None:
    expires = datetime(2026, 2, 8, 19, 0, tzinfo=UTC)
    pending = ListPending(
        {A: [PendingItem(id="action-7742", summary="send email", expires_at=expires)]}
    )
    assert ask(make_agent(tmp_path, pending=pending), "/pending") == (
        "Waiting for confirmation:\n- action-7742: send email (expires 2026-02-08T19:00+00:00)"
    )
    assert ask(make_agent(tmp_path), "/pending") == "No confirmations are waiting for you."


def test_room_chatter_is_recorded_but_not_answered(tmp_path: Path) -> None:
    provider = CountingProvider()
    agent = make_agent(tmp_path, provider)
    room = "lobby@conference.x"
    assert (
        ask(agent, "just chatting", conv=room, origin="room", sender="bob", addressed=False) is None
    )
    assert ask(agent, "/ping", conv=room, origin="room", sender="bob", addressed=False) is None
    assert provider.calls == 0
    assert ask(agent, "what now?", conv=room, origin="room", sender="carol") == "model answer"
    turns = agent.memory.conversation(room).turns(10)
    assert [(t.sender, t.text) for t in turns[:3]] == [
        ("bob", "just chatting"),
        ("bob", "/ping"),
        ("carol", "what now?"),
    ]


def test_model_failure_gives_generic_reply_with_incident(tmp_path: Path) -> None:
    class Down:
        description = "down"

        async def complete(self, **kwargs: Any) -> Completion:
            raise LlmError("anthropic failed after 4 attempts: HTTP 500 internal detail")

    reply = ask(make_agent(tmp_path, Down()), "hi") or ""
    assert reply.startswith("Sorry, the model is not answering right now (incident ")
    assert "internal detail" not in reply


def test_is_command_distinguishes_paths() -> None:
    assert is_command("/status")
    assert is_command("  /new please")
    assert not is_command("/tmp/file is big")
    assert not is_command("hello /status")
    assert not is_command("")
