"""The security report plugin (tests/security/conftest.py), run on small fake suites by pytester.

Each test lays out a miniature checkout (``tests/security`` with a copy of the real conftest, a
``threat-model/threats`` table) in a temporary directory and runs pytest on it in-process.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")

ATTACKS = """
import pytest

def test_blocked():
    assert True

@pytest.mark.parametrize("n", [1, 2])
def test_blocked_twice(n):
    assert n

def test_leaks():
    assert 1 == 2, "secret read from /etc/shadow"

def test_needs_kernel():
    pytest.skip("needs Landlock ABI 99")

@pytest.mark.xfail(reason="symlink race not closed yet", strict=True)
def test_known_gap():
    assert False
"""

A = "tests/security/test_attacks.py::"
TABLE = f"""# Fake area

| id | STRIDE | threat | mitigation | residual risk | tests |
| --- | --- | --- | --- | --- | --- |
| T-FAK-01 | E | a | b | c | {A}test_blocked |
| T-FAK-02 | I | a | b | c | {A}test_blocked_twice<br>{A}test_leaks |
| T-FAK-03 | D | a | b | c | {A}test_needs_kernel |
| T-FAK-04 | T | a | b | c | tests/unit/test_plain.py::test_unit |
| T-FAK-05 | T | a | b | c | {A}test_gone |
"""


@pytest.fixture(autouse=True)
def _bare_inner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The inner runs must never write into the report path of the run that hosts them, and need
    # no installed plugins (loading hypothesis's alone would make each run a second slower).
    monkeypatch.delenv("AIRLOCK_SECURITY_REPORT", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def checkout(pytester: pytest.Pytester) -> pytest.Pytester:
    """A fake checkout: the real conftest, one attack module, a plain unit test, a table."""
    # Plain folders, not packages: ``tests.security`` is already the suite hosting this test.
    security = pytester.path / "tests" / "security"
    security.mkdir(parents=True)
    (security / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (security / "test_attacks.py").write_text(ATTACKS, encoding="utf-8")
    (security / "test_threat_model.py").write_text("def test_checker():\n    pass\n", "utf-8")
    unit = pytester.path / "tests" / "unit"
    unit.mkdir()
    (unit / "test_plain.py").write_text("def test_unit():\n    pass\n", encoding="utf-8")
    threats = pytester.path / "threat-model" / "threats"
    threats.mkdir(parents=True)
    (threats / "fake.md").write_text(TABLE, encoding="utf-8")
    return pytester


def _json_report(checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    target = checkout.path / "out" / "security.json"
    monkeypatch.setenv("AIRLOCK_SECURITY_REPORT", str(target))
    checkout.runpytest(*args)
    return json.loads(target.read_text(encoding="utf-8"))


def test_report_counts_each_outcome(checkout: pytest.Pytester) -> None:
    result = checkout.runpytest("tests/security")
    result.assert_outcomes(passed=4, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*= airlock security report =*",
            "attacks tried  6",
            "blocked        3",
            "leaked         1",
            "  tests/security/test_attacks.py::test_leaks: AssertionError: secret read from*",
            "skipped        1",
            "  tests/security/test_attacks.py::test_needs_kernel: needs Landlock ABI 99",
            "known gaps     1 (xfail)",
            "  tests/security/test_attacks.py::test_known_gap: symlink race not closed yet",
            "threat rows    1/5 covered (every named test passed)",
            "  leaked: T-FAK-02",
            "  skipped: T-FAK-03",
            "  outside this run: T-FAK-04",
            "  not run: T-FAK-05",
        ]
    )


def test_json_report_matches_terminal(
    checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _json_report(checkout, monkeypatch, "tests/security")
    assert (report["attacks_tried"], report["blocked"], report["leaked"]) == (6, 3, 1)
    assert (report["skipped"], report["known_gaps"], report["errors"]) == (1, 1, 0)
    assert report["pytest_exit_status"] == 1  # test_leaks failed
    assert report["skipped_tests"] == {
        "tests/security/test_attacks.py::test_needs_kernel": "needs Landlock ABI 99"
    }
    assert list(report["leaked_tests"]) == ["tests/security/test_attacks.py::test_leaks"]
    statuses = {r["id"]: r["status"] for r in report["threat_rows"]["rows"]}
    assert statuses == {
        "T-FAK-01": "covered",
        "T-FAK-02": "leaked",
        "T-FAK-03": "skipped",
        "T-FAK-04": "outside this run",
        "T-FAK-05": "not run",
    }


def test_whole_suite_counts_only_security_attacks(
    checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _json_report(checkout, monkeypatch, "tests")
    # The unit test is not an attack, but a threat row may still name it as its proof.
    assert report["attacks_tried"] == 6
    assert report["threat_rows"]["covered"] == 2
    assert {r["id"]: r["status"] for r in report["threat_rows"]["rows"]}["T-FAK-04"] == "covered"


def test_silent_when_no_security_test_ran(
    checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = checkout.path / "security.json"
    monkeypatch.setenv("AIRLOCK_SECURITY_REPORT", str(target))
    result = checkout.runpytest("tests/unit")
    result.assert_outcomes(passed=1)
    assert "airlock security report" not in result.stdout.str()
    assert not target.exists()


def test_deselected_attacks_do_not_count(checkout: pytest.Pytester) -> None:
    result = checkout.runpytest("tests/security", "-k", "test_blocked and not twice")
    result.stdout.fnmatch_lines(["attacks tried  1", "blocked        1", "leaked         0"])


def test_broken_and_skipped_modules_are_errors_not_silence(
    checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    security = checkout.path / "tests" / "security"
    (security / "test_broken.py").write_text("import no_such_module_anywhere\n", "utf-8")
    (security / "test_no_tool.py").write_text(
        "import pytest\npytest.importorskip('no_such_tool_anywhere')\n", "utf-8"
    )
    (security / "test_fixture.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef server():\n    raise OSError('port in use')\n\n"
        "def test_needs_server(server):\n    pass\n",
        "utf-8",
    )
    report = _json_report(
        checkout, monkeypatch, "tests/security", "--continue-on-collection-errors"
    )
    assert report["errors"] == 3
    errors = report["error_tests"]
    assert errors["tests/security/test_broken.py"].startswith("module failed to load:")
    assert errors["tests/security/test_no_tool.py"] == (
        "module skipped: could not import 'no_such_tool_anywhere': "
        "No module named 'no_such_tool_anywhere'"
    )
    assert errors["tests/security/test_fixture.py::test_needs_server"] == "OSError: port in use"


def test_silent_when_only_collecting(checkout: pytest.Pytester) -> None:
    result = checkout.runpytest("tests/security", "--collect-only", "-q")
    assert "airlock security report" not in result.stdout.str()


def test_checker_module_is_not_an_attack(checkout: pytest.Pytester) -> None:
    result = checkout.runpytest("tests/security/test_threat_model.py")
    result.assert_outcomes(passed=1)
    assert "airlock security report" not in result.stdout.str()


def _load_shared_conftest() -> None:
    # Importing tests/conftest.py (under a throwaway name) registers and loads the profiles.
    path = Path(__file__).parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("airlock_shared_conftest_probe", path)
    assert spec is not None
    assert spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


@pytest.mark.parametrize(
    ("env", "max_examples"),
    [
        pytest.param({"CI": "true"}, 200, id="ci"),
        pytest.param({"CI": ""}, 100, id="dev"),
        pytest.param({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, 100, id="named"),
    ],
)
def test_hypothesis_profile_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], max_examples: int
) -> None:
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        _load_shared_conftest()
        assert settings().max_examples == max_examples
        assert settings().deadline is None
    finally:
        monkeypatch.undo()
        _load_shared_conftest()  # back to the profile this session runs under


def test_long_lists_of_rows_are_cut_on_the_terminal_but_not_in_json(
    checkout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = "".join(f"| T-MNY-{n:02d} | D | a | b | c | {A}test_gone |\n" for n in range(1, 15))
    header = "| id | STRIDE | threat | mitigation | residual risk | tests |\n| --- |\n"
    (checkout.path / "threat-model" / "threats" / "many.md").write_text(header + many, "utf-8")
    report = _json_report(checkout, monkeypatch, "tests/security")
    assert sum(r["status"] == "not run" for r in report["threat_rows"]["rows"]) == 15
    result = checkout.runpytest("tests/security")
    result.stdout.fnmatch_lines(["  not run: T-FAK-05, T-MNY-01, * and 3 more"])
