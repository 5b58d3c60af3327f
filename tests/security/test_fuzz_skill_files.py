"""Fuzzing the other files of a skill folder: the build lock and ``examples.toml``.

A skill folder may come from a third party. Whatever its ``build/*.lock`` or ``examples.toml``
holds, reading it must give a valid object or a :class:`SkillError` naming the file; any other
exception escapes the registry's and the CLI's error handling as a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.errors import SkillError
from host.skills.examples import EXAMPLES_FILE, MAX_EXAMPLES_BYTES, Case, load_examples
from host.skills.lock import BuildLock, lock_path, read_lock

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
DIGEST = "ab" * 32
LOCK = {
    "v": 1,
    "name": "fs.read",
    "version": "0.1.0",
    "module_sha256": DIGEST,
    "manifest_sha256": DIGEST,
    "toolchain": "zig 0.13.0",
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=20,
)


def lock_outcome(tmp_path: Path, data: bytes) -> BuildLock | SkillError:
    module = tmp_path / "build" / "fs_read.wasm"
    module.parent.mkdir(exist_ok=True)
    lock_path(module).write_bytes(data)
    try:
        return read_lock(module)
    except SkillError as exc:
        error = exc
    assert str(lock_path(module)) in error.message, "the error must name the lock file"
    return error


def examples_outcome(tmp_path: Path, data: bytes) -> tuple[Case, ...] | SkillError:
    (tmp_path / EXAMPLES_FILE).write_bytes(data)
    try:
        return load_examples(tmp_path)
    except SkillError as exc:
        error = exc
    assert EXAMPLES_FILE in error.message, "the error must name the examples file"
    return error


def test_valid_lock_is_read(tmp_path: Path) -> None:
    assert lock_outcome(tmp_path, json.dumps(LOCK).encode()) == BuildLock(**LOCK)


@FUZZ
@given(field=st.sampled_from(sorted(LOCK)), value=json_values)
def test_fuzz_lock_fields(tmp_path: Path, field: str, value: object) -> None:
    outcome = lock_outcome(tmp_path, json.dumps({**LOCK, field: value}).encode())
    if isinstance(outcome, BuildLock):
        # Accepted locks only ever carry well-formed digests: nothing else is compared to a module.
        assert len(outcome.module_sha256) == 64
        assert set(outcome.module_sha256) <= set("0123456789abcdef")


@FUZZ
@given(data=st.binary(max_size=512).filter(lambda b: _utf8(b)))
def test_fuzz_lock_utf8_garbage(tmp_path: Path, data: bytes) -> None:
    assert isinstance(lock_outcome(tmp_path, data), SkillError)


def test_deeply_nested_lock_is_refused(tmp_path: Path) -> None:
    outcome = lock_outcome(tmp_path, b"[" * 100_000)
    assert isinstance(outcome, SkillError)
    assert "malformed build lock" in outcome.message


def test_lock_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    outcome = lock_outcome(tmp_path, b'{"v": 1, "name": "\xff"}')
    assert isinstance(outcome, SkillError)
    path = tmp_path / "build" / "fs_read.lock"
    assert outcome.message == (
        f"{path}: malformed build lock: not UTF-8 text (bad byte at offset 18)"
    )
    assert outcome.hint == "rebuild the skill with `airlock skill build`"


@FUZZ
@given(data=st.binary(max_size=512).filter(lambda b: _utf8(b)))
def test_fuzz_examples_utf8_garbage(tmp_path: Path, data: bytes) -> None:
    outcome = examples_outcome(tmp_path, data)
    assert isinstance(outcome, SkillError | tuple)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'[[case]]\nname = "\xff"\n', id="not-utf8"),
        pytest.param(b"x = " + b"[" * 3000 + b"]" * 3000, id="deep-arrays"),
        pytest.param(b"x = " + b"9" * 5000, id="huge-integer"),
        pytest.param(
            b'[[case]]\nname = "a"\nargs = {}\nexpect_pattern = { content = "((" }\n',
            id="invalid-regex",
        ),
    ],
)
def test_hostile_examples_get_a_skill_error(tmp_path: Path, data: bytes) -> None:
    assert isinstance(examples_outcome(tmp_path, data), SkillError)


def test_invalid_example_regex_names_the_case_key(tmp_path: Path) -> None:
    data = b'[[case]]\nname = "a"\nargs = {}\nexpect_pattern = { content = "((" }\n'
    outcome = examples_outcome(tmp_path, data)
    assert isinstance(outcome, SkillError)
    assert outcome.message == (
        f"{tmp_path / EXAMPLES_FILE}: `case.0`: Value error, expect_pattern `content` is not a "
        "valid regular expression: missing ), unterminated subpattern at position 1"
    )


def test_examples_over_the_cap_are_refused_unparsed(tmp_path: Path) -> None:
    outcome = examples_outcome(tmp_path, b"#" * (MAX_EXAMPLES_BYTES + 1))
    assert isinstance(outcome, SkillError)
    assert outcome.message == (
        f"examples file {tmp_path / EXAMPLES_FILE} is over the {MAX_EXAMPLES_BYTES}-byte cap"
    )


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
