"""The descriptor purge keeps exactly 0-2 and the plan's keep_fds."""

from __future__ import annotations

import os

from tests.security.child_payload import run_snippet


def test_close_inherited_keeps_only_listed_descriptors() -> None:
    pipes = [os.pipe() for _ in range(3)]
    fds = tuple(fd for pair in pipes for fd in pair)
    keep = (pipes[1][0], pipes[2][1])
    try:
        result = run_snippet(
            f"""
from sandbox.harden.descriptors import close_inherited, open_descriptors
kept = close_inherited({keep!r} + (2, -1))
result = dict(kept=kept, open=open_descriptors())
""",
            pass_fds=fds,
        )
    finally:
        for fd in fds:
            os.close(fd)
    assert result == {"kept": sorted(keep), "open": [0, 1, 2, *sorted(keep)]}


def test_close_inherited_with_nothing_to_keep() -> None:
    r, w = os.pipe()
    try:
        result = run_snippet(
            """
from sandbox.harden.descriptors import close_inherited, open_descriptors
result = dict(kept=close_inherited(()), open=open_descriptors())
""",
            pass_fds=(r, w),
        )
    finally:
        os.close(r)
        os.close(w)
    assert result == {"kept": [], "open": [0, 1, 2]}
