"""Fuzzing the JID-to-directory mapping of per-user memory: a JID is text an attacker chooses.

Each user and each room has its own memory directory (the Fluux Agent layout). Whatever the JID,
its directory must be one plain child of the memory root (no ``/``, ``..``, NUL, hidden name,
overlong name), and two JIDs that are not the same account must never share a directory:
otherwise one user reads or rewrites another's history, profile and notes.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from host.agent.jidpath import MAX_NAME, jid_dirname, memory_dir

# Pure functions, microseconds per example: three times the profile's examples.
FUZZ = settings(max_examples=3 * settings.default.max_examples)
ROOT = Path("/srv/airlock/memory")
# Characters that matter for paths and look-alikes, mixed with anything Unicode has.
tricky = st.sampled_from(
    ["/", "\\", ".", "..", "\x00", "%", "~", "@", " ", "\u212a", "\u0130", "\ufe52", "%2F", "a"]
)
jids = st.lists(tricky | st.characters() | st.text(max_size=4), max_size=12).map("".join) | st.text(
    max_size=300
)


def same_account(a: str, b: str) -> bool:
    """The merges the mapping makes on purpose: surrounding space, Unicode NFC, lower case."""
    return bool(
        unicodedata.normalize("NFC", a.strip()).lower()
        == unicodedata.normalize("NFC", b.strip()).lower()
    )


@FUZZ
@given(jid=jids)
def test_fuzz_memory_dir_is_one_plain_child_of_the_root(jid: str) -> None:
    path = memory_dir(ROOT, jid)
    name = path.name
    assert path.parent == ROOT
    assert name
    assert not name.startswith(".")
    assert "/" not in name
    assert "\x00" not in name
    assert len(name.encode("utf-8")) <= MAX_NAME
    assert name.isascii()


@FUZZ
@given(a=jids, b=jids)
def test_fuzz_memory_dirs_of_different_accounts_never_collide(a: str, b: str) -> None:
    if not same_account(a, b):
        assert jid_dirname(a) != jid_dirname(b)


@FUZZ
@given(jid=jids, other=st.sampled_from(["%", "%25", "~", "%empty", "."]))
def test_fuzz_memory_dir_encoding_cannot_be_imitated(jid: str, other: str) -> None:
    # A JID that spells out another JID's encoding (its %XX escapes, the overlong ~digest form,
    # the empty-name marker) must still get its own directory.
    forged = jid_dirname(jid) + other
    if not same_account(forged, jid):
        assert jid_dirname(forged) != jid_dirname(jid)
