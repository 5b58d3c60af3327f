"""Conversational memory on disk, in the Fluux Agent layout.

::

    <root>/instructions.md identity.md personality.md      global persona files
    <root>/<jid>/history.jsonl                              current session, one turn per line
    <root>/<jid>/sessions/YYYYMMDD-HHMMSS.jsonl             archived sessions
    <root>/<jid>/user.md memory.md                          what the agent knows about them
    <root>/<jid>/instructions.md identity.md personality.md per-JID (or per-room) overrides

``<jid>`` is a user's bare JID or a room's JID, encoded by :mod:`host.agent.jidpath`. Only
final user and assistant texts are kept in history: tool calls and tool outputs are not, so
untrusted tool output never becomes lasting context. Idle sessions are archived lazily, when the
next message arrives after ``idle_timeout`` (no background timer).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from host.agent.jidpath import memory_dir

__all__ = ["PERSONA_FILES", "Conversation", "MemoryStore", "Turn"]

log = logging.getLogger(__name__)
PERSONA_FILES = ("identity.md", "personality.md", "instructions.md")
PROFILE_FILES = ("user.md", "memory.md")
# Persona and profile files are read into every prompt; a larger one is a mistake (or an
# attempt to blow the context), so only this much of it is used.
MAX_PROFILE_CHARS = 16_000
# One history line longer than this is not one of ours: it is skipped when reading.
MAX_LINE_BYTES = 1_100_000
# Global persona files are shared by every conversation: read once per this many seconds, so an
# operator's edit shows within it while busy agents do not reopen them on every message.
GLOBAL_TTL_SECS = 5.0
TAIL_BLOCK = 8 * 1024  # history is read backwards in blocks of this size (~40 short turns)


class Turn(BaseModel):
    """One line of ``history.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime
    role: Literal["user", "assistant"]
    text: str
    # In rooms, who said it (nick); empty in one-to-one chats.
    sender: Annotated[str, Field(max_length=256)] = ""


class Conversation:
    """The memory of one user or one room. Not safe for concurrent writers: callers serialise
    per conversation (the agent holds one lock per key)."""

    def __init__(
        self,
        root: Path,
        key: str,
        *,
        idle_timeout: timedelta | None,
        global_file: Callable[[str], str] | None = None,
    ) -> None:
        self.root = root
        self.key = key
        self.dir = memory_dir(root, key)
        self.idle_timeout = idle_timeout
        self._global_file = global_file or (lambda name: _read_capped(root / name))
        self._names: frozenset[str] | None = None

    def _local_names(self) -> frozenset[str]:
        # One listing instead of an open() per persona and profile file, most of which do not
        # exist; taken once per Conversation (one message).
        if self._names is None:
            try:
                self._names = frozenset(os.listdir(self.dir))
            except (FileNotFoundError, NotADirectoryError):
                self._names = frozenset()
        return self._names

    @property
    def history_path(self) -> Path:
        """The current session file."""
        return self.dir / "history.jsonl"

    @property
    def sessions_dir(self) -> Path:
        """Where archived sessions go."""
        return self.dir / "sessions"

    def append(self, turn: Turn) -> None:
        """Add one turn to the current session."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.history_path.open("a", encoding="utf-8") as f:
            f.write(turn.model_dump_json() + "\n")

    def turns(self, limit: int) -> list[Turn]:
        """The last ``limit`` turns of the current session; unreadable lines are skipped.

        Only the tail of the file is read, so a long session costs the same per message as a
        short one.
        """
        try:
            raw = _tail_lines(self.history_path, limit)
        except FileNotFoundError:
            return []
        out: list[Turn] = []
        for line in raw:
            if not line.strip() or len(line) > MAX_LINE_BYTES:
                continue
            try:
                out.append(Turn.model_validate_json(line))
            except ValidationError:
                log.warning("skipping unreadable history line", extra={"dir": self.dir.name})
        return out

    def archive(self, now: datetime) -> Path | None:
        """Move the current session to ``sessions/``; None when there was nothing to archive."""
        if not self.history_path.exists():
            return None
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        target = self.sessions_dir / f"{stamp}.jsonl"
        n = 1
        while target.exists():  # two archives in one second keep both
            target = self.sessions_dir / f"{stamp}-{n}.jsonl"
            n += 1
        os.replace(self.history_path, target)
        return target

    def archive_if_idle(self, now: datetime) -> Path | None:
        """Archive the session when its last write is older than the idle timeout."""
        if self.idle_timeout is None:
            return None
        try:
            mtime = self.history_path.stat().st_mtime
        except FileNotFoundError:
            return None
        if now - datetime.fromtimestamp(mtime, UTC) >= self.idle_timeout:
            return self.archive(now)
        return None

    def forget(self) -> None:
        """Erase history, ``user.md`` and ``memory.md``; archived sessions are kept."""
        for name in ("history.jsonl", *PROFILE_FILES):
            (self.dir / name).unlink(missing_ok=True)

    def archived_count(self) -> int:
        """How many sessions were archived."""
        if not self.sessions_dir.is_dir():
            return 0
        return sum(1 for p in self.sessions_dir.iterdir() if p.suffix == ".jsonl")

    def message_count(self) -> int:
        """Turns in the current session."""
        try:
            with self.history_path.open("rb") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def persona_file(self, name: str) -> str:
        """Per-JID ``name`` if present and non-empty, else the global one, else ``""``."""
        if name in self._local_names():
            text = _read_capped(self.dir / name)
            if text.strip():
                return text
        text = self._global_file(name)
        return text if text.strip() else ""

    def profile_file(self, name: str) -> str:
        """This conversation's ``user.md`` or ``memory.md`` (``""`` when absent)."""
        return _read_capped(self.dir / name) if name in self._local_names() else ""


def _tail_lines(path: Path, limit: int) -> list[bytes]:
    """The last ``limit`` lines of ``path``, reading backwards in blocks; never more than
    ``limit * MAX_LINE_BYTES`` bytes."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        pos, data = end, b""
        budget = limit * MAX_LINE_BYTES
        while pos > 0 and data.count(b"\n") <= limit and end - pos < budget:
            step = min(TAIL_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.splitlines()
    if pos > 0 and lines:
        lines = lines[1:]  # the first line may be cut; it is older than the window anyway
    return lines[-limit:]


def _read_capped(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            return f.read(MAX_PROFILE_CHARS)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return ""


class MemoryStore:
    """Hands out :class:`Conversation` objects rooted at one directory."""

    def __init__(
        self,
        root: Path,
        *,
        idle_timeout_mins: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        global_ttl_secs: float = GLOBAL_TTL_SECS,
    ) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.idle_timeout = timedelta(minutes=idle_timeout_mins) if idle_timeout_mins else None
        self.clock = clock
        self.global_ttl_secs = global_ttl_secs
        self._globals: dict[str, tuple[float, str]] = {}

    def conversation(self, key: str) -> Conversation:
        """The memory of user or room ``key`` (a bare JID)."""
        return Conversation(
            self.root, key, idle_timeout=self.idle_timeout, global_file=self.global_file
        )

    def global_file(self, name: str) -> str:
        """A global persona file, re-read at most every ``global_ttl_secs``."""
        now = time.monotonic()
        cached = self._globals.get(name)
        if cached is not None and now - cached[0] < self.global_ttl_secs:
            return cached[1]
        text = _read_capped(self.root / name)
        self._globals[name] = (now, text)
        return text
