"""Fuzzing the deployer's other files: the host configuration and the broker's secrets file.

Both are written by the trusted deployer, by hand. Whatever they hold, loading them must give a
valid object or a :class:`ConfigError` saying what is wrong (design invariant 7): never another
exception, which would stop the host at start-up with a traceback instead of a reason.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.config import Config, load_config
from host.errors import ConfigError
from host.skills.broker.secrets import StaticSecrets
from tests.security.test_fuzz_manifest import to_toml

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
SECTIONS = ["server", "llm", "agent", "memory", "session", "airlock", "rooms", "x"]
KEYS = ["host", "port", "mode", "jid", "password", "provider", "model", "api_key", "path"]
values = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["${HOME}", "${NOT_SET}", "${bad name}", "component", "client", "ollama"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=16,
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o600)  # the secrets loader refuses anything readable by others
    return path


def config_outcome(path: Path) -> Config | ConfigError:
    try:
        return load_config(path, env={"HOME": "/srv/airlock"})
    except ConfigError as exc:
        return exc


def secrets_outcome(path: Path) -> StaticSecrets | ConfigError:
    try:
        return StaticSecrets.from_file(path)
    except ConfigError as exc:
        return exc


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(SECTIONS), values, max_size=6))
def test_fuzz_config_random_documents(tmp_path: Path, doc: dict[str, Any]) -> None:
    config_outcome(write(tmp_path / "airlock.toml", to_toml(doc).encode()))


@FUZZ
@given(data=st.binary(max_size=512))
def test_fuzz_config_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    config_outcome(write(tmp_path / "airlock.toml", data))


@FUZZ
@given(doc=st.dictionaries(st.text(max_size=12), values, max_size=5))
def test_fuzz_secrets_random_documents(tmp_path: Path, doc: dict[str, Any]) -> None:
    result = secrets_outcome(write(tmp_path / "secrets.toml", to_toml(doc).encode()))
    if isinstance(result, StaticSecrets):
        assert result.names() == frozenset(doc)


HOSTILE = [
    pytest.param(b"x = " + b"[" * 3000 + b"]" * 3000, id="deep-arrays"),
    pytest.param(b"x = " + b"9" * 5000, id="integer-of-5000-digits"),
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_config_gets_a_config_error(tmp_path: Path, data: bytes) -> None:
    assert isinstance(config_outcome(write(tmp_path / "airlock.toml", data)), ConfigError)


@pytest.mark.parametrize("data", [*HOSTILE, pytest.param(b'KEY = "\xff"', id="not-utf8")])
def test_hostile_secrets_file_gets_a_config_error(tmp_path: Path, data: bytes) -> None:
    assert isinstance(secrets_outcome(write(tmp_path / "secrets.toml", data)), ConfigError)


def test_secrets_file_not_utf8_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path / "secrets.toml", b'KEY = "sk-\xffsecretvalue"\n')
    outcome = secrets_outcome(path)
    assert isinstance(outcome, ConfigError)
    assert (
        outcome.message
        == f"secrets file {path} is not valid TOML: not UTF-8 text (bad byte on line 1)"
    )
    assert outcome.hint == "save the file as UTF-8"


def test_secrets_file_huge_integer_names_the_digit_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "secrets.toml", b"x = " + b"9" * 5000)
    outcome = secrets_outcome(path)
    assert isinstance(outcome, ConfigError)
    limit = sys.get_int_max_str_digits()
    assert outcome.message == (
        f"secrets file {path} is not valid TOML: Exceeds the limit ({limit} digits) for integer "
        "string conversion: value has 5000 digits"
    )
    assert outcome.hint == f"write integers of at most {limit} digits"
