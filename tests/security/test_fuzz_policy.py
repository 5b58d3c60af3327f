"""Fuzzing the policy loader: a deployer's policy file is the one source of grants (invariant 2).

Policy files are written by the trusted deployer, but by hand: whatever a file holds, loading it
must either give a policy set whose grants stay inside the sane roots, or a :class:`PolicyError`
naming the file and line; never another exception, never a hang (the host would not start and
``airlock policy check`` could not say why), and never a constraint that silently matches all.

Every load runs under :func:`returns_within`, so a loop in the loader fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.errors import PolicyError
from host.policy.loader import PolicySet, load_policy_dir
from host.policy.schema import check_host_path
from host.policy.testcases import run_policy_tests
from tests.security.test_fuzz_manifest import to_toml, to_toml_value

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
# A policy file of a few rules loads in milliseconds; hundreds of times that is a hang.
LOAD_BUDGET_S = 2.0
RULE: dict[str, Any] = {
    "id": "notes",
    "skills": ["notes.write"],
    "requesters": ["alice@example.org"],
    "effect": "allow",
    "grant": {"dirs": {"workspace": {"path": "/srv/airlock/workspace", "access": "rw"}}},
}
RULE_KEYS = [*RULE, "origins", "reason", "args", "confirm", "rate", "unsafe_allow_destructive"]

values = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["*", "group:team", "domain:example.org", "/srv/x", "confirm", "deny"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["path", "access", "dirs", "min", "max", "approvers", "within", "glob"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)


class LoaderHung(Exception):
    """The loader did not return within its budget."""


@contextlib.contextmanager
def returns_within(seconds: float) -> Iterator[None]:
    """Raise :class:`LoaderHung` in the block if it runs longer than ``seconds``.

    Uses the real-time interval timer, and puts back whatever handler and timer were there
    before (pytest-timeout uses the same signal for its own, much longer, limit).
    """

    def expire(signum: int, frame: FrameType | None) -> None:
        raise LoaderHung(f"the policy loader did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    outer_left, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            left = max(outer_left - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def load(directory: Path, text: str | bytes) -> PolicySet | PolicyError:
    directory.mkdir(mode=0o700, exist_ok=True)  # the loader refuses a world-writable directory
    data = text.encode() if isinstance(text, str) else text
    (directory / "main.toml").write_bytes(data)
    with returns_within(LOAD_BUDGET_S):
        try:
            policy = load_policy_dir(directory)
        except PolicyError as exc:
            error = exc
        else:
            return _sound(policy)
    assert "main.toml" in error.message, "a policy error must name the file"
    return error


def _sound(policy: PolicySet) -> PolicySet:
    """What every loaded policy guarantees to the sandbox: grants only below sane roots."""
    for rule in policy.rules:
        if rule.effect == "deny":
            assert rule.grant.dirs == {}
        for given_dir in rule.grant.dirs.values():
            assert check_host_path(os.path.realpath(given_dir.path))
    return policy


def rule_file(**changes: Any) -> str:
    return "[[rule]]\n" + to_toml({**RULE, **changes})


def test_base_rule_loads(tmp_path: Path) -> None:
    assert isinstance(load(tmp_path / "p", rule_file()), PolicySet)


@FUZZ
@given(text=st.text(max_size=400))
def test_fuzz_policy_arbitrary_text(tmp_path: Path, text: str) -> None:
    load(tmp_path / "p", text)


@FUZZ
@given(key=st.sampled_from(RULE_KEYS), value=values)
def test_fuzz_policy_rule_field_mutated(tmp_path: Path, key: str, value: Any) -> None:
    load(tmp_path / "p", rule_file(**{key: value}))


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(["srv", "etc", "home", "alice", ".ssh", "..", ".", "", "proc", "ws"]),
        min_size=1,
        max_size=5,
    ).map(lambda parts: "/" + "/".join(parts))
)
def test_fuzz_policy_dir_grants_stay_in_sane_roots(tmp_path: Path, path: str) -> None:
    grant = {"dirs": {"workspace": {"path": path, "access": "rw"}}}
    result = load(tmp_path / "p", rule_file(grant=grant))
    if isinstance(result, PolicySet):
        assert result.rules[0].grant.dirs["workspace"].path == check_host_path(path)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[[rule]]\nid = 5\n", id="wrong-type"),
        pytest.param("rule = 5\n", id="rule-not-a-table"),
        pytest.param(b"\xff\xfe[[rule]]\n", id="not-utf8"),
        pytest.param("[[rule]\n", id="broken-toml"),
    ],
)
def test_hostile_policy_gets_a_policy_error(tmp_path: Path, text: str | bytes) -> None:
    assert isinstance(load(tmp_path / "p", text), PolicyError)


GROUP_CYCLE = '[groups]\nteam = ["group:ops"]\nops = ["group:team"]\n\n' + rule_file(
    requesters=["group:team"]
)


def test_group_cycle_is_refused(tmp_path: Path) -> None:
    # Found by this fuzzing: the loader used to expand these groups forever.
    assert isinstance(load(tmp_path / "p", GROUP_CYCLE), PolicyError)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x = " + "[" * 3000 + "]" * 3000, id="deep-arrays"),
        pytest.param("x = " + "9" * 5000, id="integer-of-5000-digits"),
        pytest.param(
            rule_file(grant={"dirs": {"workspace": {"path": "/srv/a\x00b"}}}), id="nul-in-path"
        ),
    ],
)
def test_hostile_policy_edge_values_get_a_policy_error(tmp_path: Path, text: str) -> None:
    # Found by this fuzzing: these used to escape as RecursionError or ValueError.
    assert isinstance(load(tmp_path / "p", text), PolicyError)


@pytest.mark.parametrize("bound", ["min", "max"])
def test_non_finite_bound_is_refused(tmp_path: Path, bound: str) -> None:
    # Found by this fuzzing: a nan bound used to load, and then matched every value.
    text = rule_file() + f"\n[rule.args.count]\n{bound} = {to_toml_value(float('nan'))}\n"
    assert isinstance(load(tmp_path / "p", text), PolicyError)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            b"x = " + b"[" * 3000 + b"]" * 3000,
            "nests arrays or tables too deeply to read",
            id="deep-arrays",
        ),
        pytest.param(
            b"x = " + b"9" * 5000,
            "is not valid TOML: Exceeds the limit",
            id="integer-of-5000-digits",
        ),
        pytest.param(
            b'[[case]]\nname = "\xff"\n',
            "is not valid TOML: not UTF-8 text (bad byte on line 2)",
            id="not-utf8",
        ),
    ],
)
def test_hostile_policy_test_file_gets_a_policy_error(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    # Found by this fuzzing: deep arrays and huge integers in a policy test file escaped
    # `airlock policy test` as RecursionError or ValueError.
    policy_dir = tmp_path / "p"
    assert isinstance(load(policy_dir, rule_file()), PolicySet)
    cases = policy_dir / "tests" / "hostile.toml"
    cases.parent.mkdir()
    cases.write_bytes(data)
    with pytest.raises(PolicyError) as info:
        run_policy_tests(policy_dir, {})
    assert info.value.message.startswith(f"policy test file {cases} {reason}")
