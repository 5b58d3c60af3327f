"""Fuzzing ``load_manifest``: a skill.toml from the skill supply chain is untrusted input.

Whatever the bytes, loading a manifest either returns a :class:`Manifest` whose invariants hold
or raises :class:`SkillError` naming the file; never another exception (which would take the host
down at start-up with a traceback instead of a reason), and never a manifest that widens a grant.
"""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.errors import SkillError
from host.skills.manifest import MAX_MANIFEST_BYTES, Manifest, load_manifest
from sandbox.spec import MAX_FUEL, MAX_MEMORY_MB, MAX_OUTPUT_KB, MAX_TIMEOUT_S

# Every example writes one file; a function-scoped tmp_path is shared across examples on purpose.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID = {
    "name": "fs.read",
    "version": "0.1.0",
    "description": "Read a UTF-8 text file from the workspace.",
    "parameters": {
        "type": "object",
        "required": ["path"],
        "additionalProperties": False,
        "properties": {"path": {"type": "string", "maxLength": 1024}},
    },
    "capabilities": {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "ro"}]},
}


def _key(k: str) -> str:
    return k if k and all(c in string.ascii_letters + string.digits + "_-" for c in k) else repr(k)


def to_toml_value(v: Any) -> str:
    """A TOML inline value for ``v`` (tests only: the stdlib reads TOML but cannot write it)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else _esc(c) for c in v) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(to_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_key(k)} = {to_toml_value(x)}" for k, x in v.items()) + "}"


def _esc(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def to_toml(doc: dict[str, Any]) -> str:
    """A TOML document whose top-level keys are ``doc``'s, with inline values."""
    return "".join(f"{_key(k)} = {to_toml_value(v)}\n" for k, v in doc.items())


MANIFEST_KEYS = [*VALID, "result", "destructive", "effect", "limits", "module", "sha256"]
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from([*MANIFEST_KEYS, "type", "guest", "x"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)


def assert_sound(m: Manifest) -> None:
    """What every accepted manifest guarantees to the policy engine and the sandbox."""
    assert Manifest.model_validate(m.model_dump()) == m
    assert m.parameters["type"] == "object"
    assert not m.destructive or m.effect
    assert m.limits.fuel <= MAX_FUEL
    assert m.limits.memory_mb <= MAX_MEMORY_MB
    assert m.limits.timeout_s <= MAX_TIMEOUT_S
    assert m.limits.max_output_kb <= MAX_OUTPUT_KB
    for d in m.capabilities.dirs:
        assert d.guest.startswith("/")
        assert ".." not in d.guest.split("/")


def load(tmp_path: Path, data: bytes) -> Manifest | SkillError:
    path = tmp_path / "skill.toml"
    path.write_bytes(data)
    try:
        manifest = load_manifest(path)
    except SkillError as exc:
        error = exc
    else:
        assert_sound(manifest)
        return manifest
    assert str(path) in error.message, "a manifest error must name the file"
    return error


def test_valid_manifest_round_trips(tmp_path: Path) -> None:
    assert isinstance(load(tmp_path, to_toml(VALID).encode()), Manifest)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_fuzz_manifest_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    load(tmp_path, data)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(MANIFEST_KEYS), values, max_size=8))
def test_fuzz_manifest_random_toml(tmp_path: Path, doc: dict[str, Any]) -> None:
    load(tmp_path, to_toml(doc).encode())


@FUZZ
@given(key=st.sampled_from(MANIFEST_KEYS), value=values)
def test_fuzz_manifest_one_field_mutated(tmp_path: Path, key: str, value: Any) -> None:
    result = load(tmp_path, to_toml({**VALID, key: value}).encode())
    if isinstance(result, SkillError):
        assert key in result.message, "the error must name the key that is wrong"


@FUZZ
@given(guest=st.text(alphabet="/.a-_", min_size=1, max_size=12))
def test_fuzz_manifest_guest_path_never_escapes(tmp_path: Path, guest: str) -> None:
    caps = {"dirs": [{"name": "w", "guest": guest, "access": "rw"}]}
    result = load(tmp_path, to_toml({**VALID, "capabilities": caps}).encode())
    if isinstance(result, Manifest):
        assert ".." not in result.capabilities.dirs[0].guest.split("/")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b'name = "\xff"\n', "not UTF-8 text", id="invalid-utf8"),
        pytest.param(
            b"x = " + b"[" * 5000 + b"]" * 5000,
            "nests arrays or tables too deeply",
            id="deep-array",
        ),
        pytest.param(
            b"x = " + b"{a=" * 3000 + b"1" + b"}" * 3000,
            "nests arrays or tables too deeply",
            id="deep",
        ),
        pytest.param(b"x = " + b"9" * 5000, "not valid TOML", id="huge-integer"),
        pytest.param(b'name = "a\x00"', "not valid TOML", id="nul"),
    ],
)
def test_hostile_manifest_gets_a_clear_error(tmp_path: Path, data: bytes, expected: str) -> None:
    result = load(tmp_path, data)
    assert isinstance(result, SkillError)
    assert expected in result.message


def test_deep_parameter_schema_gets_a_clear_error(tmp_path: Path) -> None:
    # Shallow enough for the TOML reader, deep enough to exhaust the JSON Schema meta-check.
    deep: dict[str, Any] = {}
    for _ in range(150):
        deep = {"type": "object", "properties": {"a": deep}}
    result = load(tmp_path, to_toml({**VALID, "parameters": deep}).encode())
    assert isinstance(result, SkillError)
    assert "a JSON Schema in the manifest is nested too deeply" in result.message


def test_oversized_manifest_is_refused_unparsed(tmp_path: Path) -> None:
    data = to_toml(VALID).encode() + b"#" * MAX_MANIFEST_BYTES
    result = load(tmp_path, data)
    assert isinstance(result, SkillError)
    assert f"over the {MAX_MANIFEST_BYTES}-byte cap" in result.message
