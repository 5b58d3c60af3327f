from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.agent.jidpath import MAX_NAME, jid_dirname, memory_dir


def test_ordinary_jid_is_kept_readable() -> None:
    assert jid_dirname("Alice@Example.org") == "alice@example.org"
    assert jid_dirname("lobby@conference.localhost") == "lobby@conference.localhost"


@pytest.mark.parametrize(
    ("jid", "expected"),
    [
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        ("..", "%2E."),
        (".", "%2E"),
        ("a\x00b@x", "a%00b@x"),
        ("a/b@x", "a%2Fb@x"),
        ("a\\b@x", "a%5Cb@x"),
        ("%2E@x", "%252e@x"),
        ("", "%empty"),
    ],
)
def test_traversal_and_special_bytes_are_encoded(jid: str, expected: str) -> None:
    assert jid_dirname(jid) == expected


def test_unicode_lookalikes_do_not_collide_with_ascii() -> None:
    fullwidth = "\uff41lice@example.org"  # FULLWIDTH LATIN SMALL LETTER A
    assert jid_dirname(fullwidth) != jid_dirname("alice@example.org")
    assert jid_dirname(fullwidth).startswith("%EF%BD%81lice")
    # composed and decomposed forms of é are the same person
    assert jid_dirname("caf\u00e9@x") == jid_dirname("cafe\u0301@x")


def test_very_long_jid_is_bounded_and_distinct() -> None:
    a = jid_dirname("a" * 5000 + "@x")
    b = jid_dirname("a" * 5000 + "@y")
    assert len(a) <= MAX_NAME
    assert a != b
    assert "~" in a


@given(st.text(max_size=300))
def test_any_jid_maps_to_a_direct_child(jid: str) -> None:
    root = Path("/srv/memory")
    path = memory_dir(root, jid)
    assert path.parent == root
    assert path.name not in {"", ".", ".."}
    assert "/" not in path.name
    assert "\x00" not in path.name
    assert len(path.name) <= MAX_NAME


@given(st.text(max_size=40), st.text(max_size=40))
def test_encoding_is_injective(a: str, b: str) -> None:
    if jid_dirname(a) == jid_dirname(b):
        assert (
            unicodedata.normalize("NFC", a.strip()).lower()
            == unicodedata.normalize("NFC", b.strip()).lower()
        )
