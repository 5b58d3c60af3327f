"""Findings (file, line, message) and locating a TOML key's line in a policy file's source.

``tomllib`` reports no line numbers for valid documents, so a key's line is found by scanning
the text: the n-th ``[[rule]]`` header is rule n, and within it the first line that assigns or
opens the key. This is exact for the formatting TOML allows within one table and falls back to
the nearest enclosing header otherwise, which is still where a person should look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Finding", "SourceIndex"]

_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_HEADER = re.compile(r"^\s*\[")


@dataclass(frozen=True)
class Finding:
    """One problem in a policy file: ``file:line: message (hint)``."""

    file: Path
    line: int
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        tail = f" ({self.hint})" if self.hint else ""
        lead = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}: {lead}{self.message}{tail}"


class SourceIndex:
    """Line lookups in one policy file's text (lines are 1-based)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.rule_headers = [i + 1 for i, line in enumerate(self.lines) if _RULE_HEADER.match(line)]

    def rule_line(self, index: int) -> int:
        """The line of the ``index``-th ``[[rule]]`` header (1 if it cannot be found)."""
        return self.rule_headers[index] if 0 <= index < len(self.rule_headers) else 1

    def _span(self, loc: tuple[str | int, ...]) -> tuple[int, int, tuple[str | int, ...]]:
        """(first line, end line exclusive, remaining keys) of the table ``loc`` starts in."""
        if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
            start = self.rule_line(loc[1])
            later = [h for h in self.rule_headers if h > start]
            return start, (later[0] if later else len(self.lines) + 1), loc[2:]
        if loc and isinstance(loc[0], str):
            header = re.compile(rf"^\s*\[\s*{re.escape(loc[0])}\s*[\].]")
            for i, line in enumerate(self.lines):
                if header.match(line):
                    return i + 1, len(self.lines) + 1, loc[1:]
        return 1, len(self.lines) + 1, loc

    def line_of(self, loc: tuple[str | int, ...]) -> int:
        """Best line for the value at ``loc`` (a pydantic error location)."""
        line, end, keys = self._span(loc)
        for key in keys:
            if not isinstance(key, str):
                continue
            k = re.escape(key)
            pattern = re.compile(rf'(^\s*\[[^\]]*\.{k}\s*[\].]|(^|[\s{{,.]){k}\s*=|"{k}"\s*=)')
            for i in range(line, min(end, len(self.lines) + 1)):
                if pattern.search(self.lines[i - 1]):
                    line = i
                    break
        return line

    def line_containing(self, start: int, needle: str) -> int:
        """The first line at or after ``start`` whose text contains ``needle`` (else ``start``)."""
        for i in range(max(start, 1), len(self.lines) + 1):
            if needle in self.lines[i - 1]:
                return i
        return start
