"""Fuzzing the policy loader: any file gives a clean set or findings, never another exception."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import PolicyError
from host.policy.loader import lint_policy_dir, load_policy_dir

KEYS = [
    "id",
    "skills",
    "requesters",
    "effect",
    "reason",
    "origins",
    "args",
    "grant",
    "confirm",
    "rate",
    "unsafe_allow_destructive",
    "dirs",
    "path",
    "access",
    "http",
    "host",
    "methods",
    "env",
    "secrets",
    "limits",
    "fuel",
    "approvers",
    "required",
    "expires_s",
    "within",
    "glob",
    "hosts",
    "min",
    "max",
    "groups",
    "policy",
    "rule",
]
SCALARS = (
    st.sampled_from(
        [
            "allow",
            "deny",
            "confirm",
            "*",
            "fs.*",
            "echo",
            "/",
            "/srv/x",
            "group:g",
            "requester",
            "a@b.org",
            "domain:b.org",
            "ro",
            "rw",
            "GET",
            "x",
        ]
    )
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.text(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=5,
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def check(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        target = directory / "p.toml"
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8", errors="surrogatepass")
        policy, findings = lint_policy_dir(directory)
        assert (policy is None) == any(f.severity == "error" for f in findings)
        assert all(f.line >= 1 and f.message for f in findings)
        if policy is None:
            with pytest.raises(PolicyError, match=f"^{re.escape(str(target))}:"):
                load_policy_dir(directory)


@settings(max_examples=200, deadline=None)
@given(rules=st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), max_size=3))
def test_policy_fuzzed_rule_tables_give_findings_only(rules: list[dict[str, object]]) -> None:
    text = "".join(
        "[[rule]]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in rule.items())
        for rule in rules
    )
    check(text)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400) | st.text(max_size=400))
def test_policy_fuzzed_bytes_give_findings_only(raw: bytes | str) -> None:
    check(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
