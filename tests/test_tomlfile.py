"""host/tomlfile.py: every way a hostile TOML file fails becomes the caller's error, exactly."""

from __future__ import annotations

import io
import sys

import pytest

from host.errors import ConfigError, SkillError
from host.tomlfile import parse_toml, read_capped


def parse(raw: bytes) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_toml(raw, source="configuration a.toml", error=ConfigError)
    return info.value


def test_valid_document_is_returned() -> None:
    assert parse_toml(b'a = 1\n[b]\nc = "d"\n', source="x", error=ConfigError) == {
        "a": 1,
        "b": {"c": "d"},
    }


def test_not_utf8_names_the_line() -> None:
    error = parse(b'a = 1\nb = "\xff"\n')
    assert error.message == (
        "configuration a.toml is not valid TOML: not UTF-8 text (bad byte on line 2)"
    )
    assert error.hint == "save the file as UTF-8"


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    error = parse(b"x = " + b"[" * 3000 + b"]" * 3000)
    assert error.message == "configuration a.toml nests arrays or tables too deeply to read"
    assert error.hint == "a real file needs a few levels of nesting at most"


def test_huge_integer_drops_the_advice_for_python_programmers() -> None:
    limit = sys.get_int_max_str_digits()
    error = parse(b"x = " + b"9" * (limit + 1))
    assert error.message == (
        f"configuration a.toml is not valid TOML: Exceeds the limit ({limit} digits) for "
        f"integer string conversion: value has {limit + 1} digits"
    )
    assert error.hint == f"write integers of at most {limit} digits"


def test_syntax_error_keeps_the_position() -> None:
    error = parse(b"a = \n")
    assert error.message == (
        "configuration a.toml is not valid TOML: Invalid value (at line 1, column 5)"
    )
    assert error.hint == "check quoting and brackets near the line and column given"


def test_error_type_is_the_callers() -> None:
    with pytest.raises(SkillError, match=r"^manifest m\.toml is not valid TOML"):
        parse_toml(b"=", source="manifest m.toml", error=SkillError)


def test_read_capped_accepts_the_cap_and_refuses_one_byte_more() -> None:
    assert read_capped(io.BytesIO(b"x" * 8), max_bytes=8, source="s", error=ConfigError) == (
        b"x" * 8
    )
    with pytest.raises(ConfigError) as info:
        read_capped(io.BytesIO(b"x" * 9), max_bytes=8, source="secrets file s", error=ConfigError)
    assert info.value.message == "secrets file s is over the 8-byte cap"
