"""`airlock policy check|explain|test` end to end, on small skill folders written here."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from host.cli.main import main
from tests.policy.conftest import PolicyWriter

FS_READ = """
name = "fs.read"
version = "0.1.0"
description = "Read a file."
[parameters]
type = "object"
required = ["path"]
additionalProperties = false
properties.path = { type = "string", maxLength = 1024 }
[[capabilities.dirs]]
name = "workspace"
guest = "/workspace"
access = "ro"
"""

POLICY = """
[[rule]]
id = "read"
skills = ["fs.read"]
requesters = ["alice@example.org"]
effect = "allow"
[rule.grant.dirs.workspace]
path = "/srv/airlock/ws"

[[rule]]
id = "keys"
skills = ["fs.*"]
requesters = ["*"]
effect = "deny"
reason = "no key files"
[rule.args.path]
within = "workspace"
glob = ["**/*.key"]
"""


@pytest.fixture
def skills(tmp_path: Path) -> Path:
    root = tmp_path / "skills"
    (root / "fs_read").mkdir(parents=True)
    (root / "fs_read" / "skill.toml").write_text(textwrap.dedent(FS_READ), encoding="utf-8")
    return root


def test_check_clean_and_with_findings(
    write_policy: PolicyWriter, skills: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_policy(POLICY)
    assert main(["policy", "check", str(directory), "--skills", str(skills)]) == 0
    assert capsys.readouterr().out.startswith("OK 2 rules in 1 file(s); digest ")
    write_policy(POLICY.replace('path = "/srv/airlock/ws"', 'path = "/"'))
    assert main(["policy", "check", str(directory), "--skills", str(skills)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        f"{directory / 'main.toml'}:8: rule `read`: `grant.dirs.workspace.path`"
    )
    assert "whole system directory" in lines[0]
    assert lines[-1] == f"1 error(s) in {directory}"


def test_explain_names_the_deciding_rule_and_the_others(
    write_policy: PolicyWriter, skills: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_policy(POLICY)
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "skill": "fs.read",
                "arguments": {"path": "a/b.md"},
                "requester": "alice@example.org",
                "origin": "chat",
                "conversation_id": "alice@example.org",
            }
        )
    )
    argv = ["policy", "explain", "--policy", str(directory), "--request", str(request)]
    assert main([*argv, "--skills", str(skills)]) == 0
    out = capsys.readouterr().out
    assert "decision: allow\nrule:     read\n" in out
    assert '"host_path": "/srv/airlock/ws"' in out
    assert "  keys (deny, main.toml:10): did not match: `path` = 'a/b.md' matches none" in out


def test_explain_refuses_a_smuggled_grant(
    write_policy: PolicyWriter, skills: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "skill": "fs.read",
                "arguments": {"path": "a"},
                "requester": "alice@example.org",
                "origin": "chat",
                "conversation_id": "c",
                "grant": {"dirs": ["/"]},
            }
        )
    )
    argv = ["policy", "explain", "--policy", str(write_policy(POLICY)), "--request", str(request)]
    assert main([*argv, "--skills", str(skills)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("airlock: error: unknown field `grant` in the request")


def test_policy_test_reports_each_case(
    write_policy: PolicyWriter, skills: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_policy(POLICY)
    (directory / "tests").mkdir()
    (directory / "tests" / "cases.toml").write_text(
        textwrap.dedent("""
        [[case]]
        name = "alice reads"
        skill = "fs.read"
        requester = "alice@example.org"
        arguments = { path = "x.md" }
        expect = "allow"

        [[case]]
        name = "wrong on purpose"
        skill = "fs.read"
        requester = "bob@example.org"
        arguments = { path = "x.md" }
        expect = "allow"
    """)
    )
    assert main(["policy", "test", str(directory), "--skills", str(skills)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "pass cases.toml:2 alice reads: allow by read"
    assert lines[1] == "FAIL cases.toml:9 wrong on purpose: deny by default deny"
    assert lines[2].startswith("     expected allow, got deny by default deny: no policy rule")
    assert lines[-1] == "1 passed, 1 failed"


def test_policy_test_file_errors_name_the_line(
    write_policy: PolicyWriter, skills: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_policy(POLICY)
    (directory / "tests").mkdir()
    (directory / "tests" / "cases.toml").write_text(
        '[[case]]\nname = "x"\nskill = "fs.read"\nrequester = "a@b.org"\nexpct = "allow"\n'
    )
    assert main(["policy", "test", str(directory), "--skills", str(skills)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"airlock: error: {directory / 'tests' / 'cases.toml'}:1: `case.0.expect`: Field required\n"
    )


def test_policy_test_without_cases_is_an_error(
    write_policy: PolicyWriter, skills: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_policy(POLICY)
    assert main(["policy", "test", str(directory), "--skills", str(skills)]) == 2
    assert f"no policy tests in {directory / 'tests'}" in capsys.readouterr().err
