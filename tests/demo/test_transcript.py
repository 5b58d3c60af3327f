"""host/demo/transcript.py: short timestamped lines, colours only when asked or on a terminal."""

from __future__ import annotations

import io
import re

from host.demo.transcript import WIDTH, Transcript

STAMP = r"\s*\d+\.\d\ds"


def test_plain_lines_are_stamped_labelled_and_wrapped() -> None:
    out = io.StringIO()
    t = Transcript(out)  # a StringIO is not a terminal: no colours
    t.say("alice", "word " * 60, role="user")
    t.check("the file is gone")
    printed = out.getvalue().splitlines()
    assert printed == t.lines
    assert "\033[" not in out.getvalue()
    assert re.fullmatch(STAMP + r"    alice  word( word)*", printed[0])
    assert all(len(line) <= WIDTH for line in printed)
    assert all(line.startswith(" " * 18 + "word") for line in printed[1:-1])
    assert re.fullmatch(STAMP + r"    check  ok: the file is gone", printed[-1])


def test_verbatim_keeps_the_command_lines_and_indents_continuations() -> None:
    t = Transcript(io.StringIO(), colour=False)
    t.say("airlock", "  4 first\n  5 " + "x" * 120, verbatim=True)
    assert t.lines[0].endswith("airlock    4 first")
    assert t.lines[1].startswith(" " * 18 + "  5 xxx")
    assert t.lines[2].startswith(" " * 18 + "    xxx")
    assert len(t.lines) == 3


def test_colour_only_on_the_label_when_asked() -> None:
    out = io.StringIO()
    t = Transcript(out, colour=True)
    t.fail("no reply")
    assert "\033[1;31m  FAILED\033[0m  no reply" in out.getvalue()
    assert "\033[" not in t.lines[0]
