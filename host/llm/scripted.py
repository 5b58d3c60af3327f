"""A provider that replays a file of turns: for demos, tests and benchmarks, with no model.

The script (TOML or JSON) lists *exchanges*. For each user message the first exchange whose
``when`` (a regular expression) matches the message is chosen (no ``when`` matches anything),
and its turns are played in order: turn 0 answers the user message, turn 1 answers the first
round of tool results, and so on. The position is computed from the conversation itself, so one
provider serves any number of concurrent conversations. Past the last turn the provider answers
``fallback``.

In a turn's ``text``, ``{user}`` is the user's message and ``{tool_result}`` the raw content of
the last tool result. A turn with ``obey_tool_result = true`` plays a model that follows
instructions injected in tool output: it calls whatever a ``CALL <tool> {json args}`` line in the
last tool result names, offered or not (inside a JSON result, in any of its strings). Example::

    fallback = "Done."

    [[exchanges]]
    when = "(?i)weather"
    [[exchanges.turns]]
    tool_calls = [{ name = "weather.get", arguments = { city = "Paris" } }]
    [[exchanges.turns]]
    text = "Here it is: {tool_result}"

    [[exchanges]]
    [[exchanges.turns]]
    text = "You said: {user}"
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from host.agent.actions import ToolCall, ToolSpec
from host.errors import ConfigError
from host.llm.interface import ChatMessage, Completion

__all__ = ["Script", "ScriptedProvider", "load_script"]

OBEY = re.compile(r"CALL\s+([A-Za-z][\w.-]*)\s*(\{.*\})?")
MAX_SCRIPT_BYTES = 1024 * 1024  # scripts are hand-written; a megabyte is already absurd


class ScriptedCall(BaseModel):
    """One tool call a turn makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] = {}


class Turn(BaseModel):
    """One model answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    tool_calls: list[ScriptedCall] = []
    obey_tool_result: bool = False


class Exchange(BaseModel):
    """The turns played for a user message matching ``when``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str | None = None
    turns: Annotated[list[Turn], Field(min_length=1)]

    @field_validator("when")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"'when' is not a valid regular expression: {exc}") from None
        return v


class Script(BaseModel):
    """A whole script file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exchanges: Annotated[list[Exchange], Field(min_length=1)]
    fallback: str = "Done."


def load_script(path: Path) -> Script:
    """Read and validate a script file (``.json`` is JSON, anything else TOML)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read model script {path}: {exc.strerror}",
            hint="set [llm] script to an existing file",
        ) from None
    if len(raw) > MAX_SCRIPT_BYTES:
        raise ConfigError(f"model script {path} is larger than {MAX_SCRIPT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return Script.model_validate(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            f"model script {path} is invalid: {detail}",
            hint="see the format in host/llm/scripted.py",
        ) from None


class ScriptedProvider:
    """Replays a :class:`Script`; deterministic, no network."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._calls = 0

    @property
    def description(self) -> str:
        """Shown by ``/status``."""
        return "scripted"

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec],
        max_tokens: int,
    ) -> Completion:
        """The turn for this point of the conversation."""
        user_index = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        user_text = messages[user_index].text if user_index >= 0 else ""
        position = sum(1 for m in messages[user_index + 1 :] if m.role == "assistant")
        tool_result = ""
        for message in reversed(messages):
            if message.role == "tool" and message.tool_results:
                tool_result = message.tool_results[-1].content
                break
        exchange = next(
            (
                e
                for e in self.script.exchanges
                if e.when is None or re.search(e.when, user_text) is not None
            ),
            None,
        )
        if exchange is None or position >= len(exchange.turns):
            return Completion(text=self.script.fallback)
        turn = exchange.turns[position]
        text = turn.text.replace("{user}", user_text).replace("{tool_result}", tool_result)
        calls = [(c.name, c.arguments) for c in turn.tool_calls]
        if turn.obey_tool_result:
            calls.extend(_injected_calls(tool_result))
        return Completion(text=text, tool_calls=tuple(self._call(n, a) for n, a in calls))

    def _call(self, name: str, arguments: dict[str, Any]) -> ToolCall:
        self._calls += 1
        return ToolCall(id=f"scripted-{self._calls}", name=name, arguments=arguments)


def _as_read(text: str) -> str:
    """The tool result as a model reads it. Real skill results are JSON (PolicyGateway), where
    an injected line sits escaped inside a string; a model reads through that, so each string
    of a JSON result is read as text of its own."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return text
    strings: list[str] = []
    stack: list[Any] = [doc]
    while stack:  # iterative: a deeply nested result must not exhaust the Python stack
        value = stack.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return "\n".join(strings)


def _injected_calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    for match in OBEY.finditer(_as_read(text)):
        arguments: dict[str, Any] = {}
        if match.group(2):
            try:
                parsed = json.loads(match.group(2))
            except ValueError:
                parsed = {}
            if isinstance(parsed, dict):
                arguments = parsed
        calls.append((match.group(1), arguments))
    return calls
