"""What a run answered: result, the skill's error, or the host's classification."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.errors import SkillError
from host.skills.examples import load_examples
from host.skills.manifest import Manifest
from host.skills.outcome import outcome
from sandbox.spec import RunResult, Status

MANIFEST = Manifest(
    name="t",
    version="0.1.0",
    description="t",
    parameters={"type": "object"},
    result={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
)


def run(status: Status, stdout: str, code: int | None = 0) -> RunResult:
    return RunResult(status=status, exit_code=code, stdout=stdout)


def test_result_on_exit_zero() -> None:
    got = outcome(run(Status.OK, '{"n": 3}\n'), MANIFEST)
    assert got.ok
    assert got.as_json() == {"n": 3}


def test_result_off_schema_is_bad_result() -> None:
    got = outcome(run(Status.OK, '{"n": "three"}'), MANIFEST)
    assert (got.error_code, got.error_message) == (
        "bad_result",
        "result does not match the manifest's schema at n: 'three' is not of type 'integer'",
    )


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("", "the skill printed no result"),
        ("[1, 2]", "the skill's output is not one JSON object"),
        ('{"n": 1}{"n": 2}', "the skill's output is not one JSON object"),
        ('{"error": {"code": "x", "message": "y"}}', "the skill's output is not one JSON object"),
    ],
)
def test_exit_zero_without_one_object_is_bad_result(stdout: str, message: str) -> None:
    got = outcome(run(Status.OK, stdout), MANIFEST)
    assert (got.error_code, got.error_message) == ("bad_result", message)


def test_skill_error_object_is_passed_through() -> None:
    got = outcome(
        run(Status.EXIT_NONZERO, '{"error":{"code":"not_found","message":"no a.txt"}}', 1),
        MANIFEST,
    )
    assert got.as_json() == {"error": {"code": "not_found", "message": "no a.txt"}}


def test_nonzero_exit_without_error_object_is_skill_failed() -> None:
    got = outcome(run(Status.EXIT_NONZERO, '{"error":{"code":"Bad Code","message":"x"}}', 3),
                  MANIFEST)  # fmt: skip
    assert (got.error_code, got.error_message) == (
        "skill_failed",
        "the skill exited with status 3 without an error object",
    )


def test_sandbox_status_becomes_the_code() -> None:
    result = RunResult(status=Status.OUT_OF_FUEL, error="fuel exhausted after 10000000")
    got = outcome(result, MANIFEST)
    assert (got.error_code, got.error_message) == ("out_of_fuel", "fuel exhausted after 10000000")


def test_example_case_needs_exactly_one_kind_of_expectation(tmp_path: Path) -> None:
    (tmp_path / "examples.toml").write_text(
        '[[case]]\nname = "x"\nargs = {}\nexpect = {}\nexpect_error = "nope"\n'
    )
    with pytest.raises(SkillError, match="give either expect / expect_subset / expect_pattern"):
        load_examples(tmp_path)


def test_missing_examples_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match=r"has no examples\.toml") as info:
        load_examples(tmp_path)
    assert info.value.hint == (
        "every skill ships at least one example case; see docs/skill-authors.md"
    )
