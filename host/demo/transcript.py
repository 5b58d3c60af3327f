"""The demo's printed transcript: who said what, seconds since the start, short lines.

Colours only when the output is a terminal (and ``NO_COLOR`` is not set), so a log file or a
test capture gets plain text. Every line is also kept in :attr:`Transcript.lines` (plain).
"""

from __future__ import annotations

import os
import textwrap
import time
from typing import TextIO

__all__ = ["Transcript"]

WIDTH = 100  # a terminal split in two still shows whole lines
RESET = "\033[0m"
COLOURS = {
    "demo": "\033[2m",  # dim: the narrator
    "user": "\033[1;34m",
    "agent": "\033[1;32m",
    "check": "\033[1;36m",
    "fail": "\033[1;31m",
    "airlock": "\033[1;35m",
}


class Transcript:
    """Prints timestamped lines to ``out``."""

    def __init__(self, out: TextIO, *, colour: bool | None = None) -> None:
        self._out = out
        if colour is None:
            colour = out.isatty() and "NO_COLOR" not in os.environ
        self._colour = colour
        self._start = time.monotonic()
        self.lines: list[str] = []

    def say(self, who: str, text: str, *, role: str | None = None, verbatim: bool = False) -> None:
        """One entry by ``who``; long or multi-line text is wrapped under it. ``verbatim``
        keeps a command's own lines (a long one continues, indented, below it)."""
        stamp = f"{time.monotonic() - self._start:6.2f}s"
        label = f"{who:>8}"
        indent = " " * (len(stamp) + len(label) + 3)
        body: list[str] = []
        room = WIDTH - len(indent)
        for paragraph in text.splitlines() or [""]:
            if verbatim:
                body.extend(textwrap.wrap(paragraph, room, subsequent_indent="    ") or [""])
            else:
                body.extend(textwrap.wrap(paragraph, room, break_on_hyphens=False) or [""])
        plain = [f"{stamp} {label}  {body[0]}", *(indent + line for line in body[1:])]
        self.lines.extend(plain)
        colour = COLOURS.get(role or who, "") if self._colour else ""
        for i, line in enumerate(plain):
            if colour and i == 0:
                line = f"{stamp} {colour}{label}{RESET}  {body[0]}"
            print(line, file=self._out, flush=True)

    def step(self, text: str) -> None:
        """A narrator's line."""
        self.say("demo", text)

    def check(self, text: str) -> None:
        """A fact the demo verified."""
        self.say("check", f"ok: {text}")

    def fail(self, text: str) -> None:
        """Why the story did not complete."""
        self.say("FAILED", text, role="fail")
