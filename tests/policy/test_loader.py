"""Loading policy files: strict, and every problem names the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.errors import PolicyError
from host.policy.loader import lint_policy_dir, load_policy_dir
from tests.policy.conftest import PolicyWriter, starter_manifests

ALLOW_ECHO = """
[[rule]]
id = "echo"
skills = ["echo"]
requesters = ["*"]
effect = "allow"
"""


def messages(directory: Path) -> list[str]:
    _, findings = lint_policy_dir(directory)
    return [f"{f.file.name}:{f.line}: {f.message}" for f in findings]


def test_a_clean_file_loads_with_a_digest(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO)
    policy = load_policy_dir(directory)
    assert [r.id for r in policy.rules] == ["echo"]
    assert policy.rules[0].line == 2
    assert len(policy.digest) == 64
    assert policy.files == ("main.toml",)


def test_digest_follows_content(write_policy: PolicyWriter) -> None:
    first = load_policy_dir(write_policy(ALLOW_ECHO)).digest
    again = load_policy_dir(write_policy(ALLOW_ECHO)).digest
    changed = load_policy_dir(write_policy(ALLOW_ECHO + "# edited\n")).digest
    assert first == again
    assert changed != first


def test_typo_in_a_key_names_the_line_and_suggests_the_key(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        ALLOW_ECHO.replace('requesters = ["*"]', 'requesters = ["*"]\nefect = 1')
    )
    _, findings = lint_policy_dir(directory)
    assert [(f.line, f.message, f.hint) for f in findings] == [
        (6, "rule `echo`: unknown key `efect`", "did you mean `effect`?")
    ]


def test_toml_syntax_error_names_its_line(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO + '\n[[rule]]\nid = "x\n')
    assert messages(directory)[0].startswith("main.toml:9: not valid TOML")


def test_load_raises_policy_error_with_file_and_line(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO.replace('effect = "allow"', 'effect = "permit"'))
    with pytest.raises(PolicyError) as info:
        load_policy_dir(directory)
    assert info.value.message.startswith(
        f"{directory / 'main.toml'}:6: rule `echo`: `effect`: Input should be"
    )
    assert info.value.hint is not None
    assert "airlock policy check" in info.value.hint


def test_deny_needs_a_reason_and_grants_nothing(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO.replace('"allow"', '"deny"'))
    assert messages(directory) == [
        "main.toml:2: rule `echo`: a deny rule needs `reason`, shown to the requester"
    ]


def test_confirm_needs_enough_approvers(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        ALLOW_ECHO.replace('"allow"', '"confirm"')
        + '[rule.confirm]\napprovers = ["bob@example.org"]\nrequired = 2\n'
    )
    assert messages(directory) == [
        "main.toml:9: rule `echo`: `required` = 2 but only 1 approvers are named"
    ]


def test_domain_cannot_approve(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        ALLOW_ECHO.replace('"allow"', '"confirm"') + '[rule.confirm]\napprovers = ["example.org"]\n'
    )
    _, findings = lint_policy_dir(directory)
    assert findings[0].line == 8
    assert findings[0].message == "rule `echo`: approver 'example.org' is not one person's bare JID"


def test_unknown_group_is_named(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO.replace('["*"]', '["group:ops"]'))
    _, findings = lint_policy_dir(directory)
    assert [(f.line, f.message, f.hint) for f in findings] == [
        (5, "rule `echo`: unknown group `ops`", "define it under [groups]")
    ]


def test_duplicate_rule_ids_across_files(write_policy: PolicyWriter) -> None:
    write_policy(ALLOW_ECHO, "a.toml")
    directory = write_policy(ALLOW_ECHO.replace('"*"', '"bob@example.org"'), "b.toml")
    found = messages(directory)
    assert found[0] == f"b.toml:2: rule id `echo` is already used at {directory / 'a.toml'}:2"


def test_shadowed_rule_is_reported_with_both_locations(write_policy: PolicyWriter) -> None:
    write_policy(ALLOW_ECHO.replace('["echo"]', '["*"]'), "a.toml")
    directory = write_policy(
        ALLOW_ECHO.replace('id = "echo"', 'id = "late"').replace('"*"', '"bob@example.org"'),
        "b.toml",
    )
    assert messages(directory) == [
        "b.toml:2: rule `late` can never decide: the earlier rule `echo` (a.toml:2) has the same "
        "effect (allow) and matches every request `late` matches"
    ]


def test_narrower_rule_first_is_not_shadowed(write_policy: PolicyWriter) -> None:
    write_policy(ALLOW_ECHO.replace('"*"', '"bob@example.org"'), "a.toml")
    directory = write_policy(ALLOW_ECHO.replace('id = "echo"', 'id = "all"'), "b.toml")
    assert messages(directory) == []


def test_different_effects_may_overlap(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        ALLOW_ECHO
        + ALLOW_ECHO.replace('id = "echo"', 'id = "no"').replace(
            'effect = "allow"', 'effect = "deny"\nreason = "maintenance"'
        )
    )
    assert messages(directory) == []


def test_unsafe_allow_destructive_loads_with_a_warning(
    write_policy: PolicyWriter, caplog: pytest.LogCaptureFixture
) -> None:
    directory = write_policy(ALLOW_ECHO + "unsafe_allow_destructive = true\n")
    policy = load_policy_dir(directory)
    assert [r.getMessage() for r in caplog.records] == [str(w) for w in policy.warnings]
    assert [str(w).split(": ", 1)[1] for w in policy.warnings] == [
        "warning: rule `echo` allows destructive skills without confirmation "
        "(unsafe_allow_destructive)"
    ]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"holds no \*\.toml policy file"):
        load_policy_dir(tmp_path)


def test_subdirectories_and_other_files_are_ignored(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO)
    (directory / "tests").mkdir()
    (directory / "tests" / "cases.toml").write_text("not = [policy", encoding="utf-8")
    (directory / "README.md").write_text("notes", encoding="utf-8")
    assert load_policy_dir(directory).files == ("main.toml",)


def test_groups_cannot_nest(write_policy: PolicyWriter) -> None:
    directory = write_policy('[groups]\na = ["group:b"]\nb = ["group:a"]\n' + ALLOW_ECHO)
    assert messages(directory) == [
        "main.toml:1: `groups`: group `a` contains 'group:b': groups cannot contain groups; "
        "list the members"
    ]


def test_nan_bound_is_refused(write_policy: PolicyWriter) -> None:
    directory = write_policy(ALLOW_ECHO + "[rule.args.text]\nmax = nan\n")
    assert messages(directory) == [
        "main.toml:7: rule `echo`: `args.text`: `min` and `max` must be finite numbers"
    ]


def test_unreadable_toml_values_are_findings(write_policy: PolicyWriter) -> None:
    directory = write_policy("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert messages(directory) == ["main.toml:1: cannot be read as a policy: nests too deeply"]


def test_check_warns_when_a_grant_is_narrowed_by_the_manifest(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        ALLOW_ECHO.replace('["echo"]', '["fs.read"]')
        + '[rule.grant.dirs.workspace]\npath = "/srv/ws"\naccess = "rw"\n'
    )
    _, findings = lint_policy_dir(directory, starter_manifests())
    assert [(f.severity, f.message) for f in findings] == [
        (
            "warning",
            "rule `echo` grants dir `workspace` rw, but fs.read declares it ro: that "
            "skill gets it read-only",
        )
    ]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/srv/{requester}/x", "the only placeholder is a last component `/{requester}`"),
        ("/srv/{user}", "the only placeholder is a last component `/{requester}`"),
        ("/{requester}", "must be absolute"),
        ("/etc/{requester}", "is inside /etc"),
    ],
)
def test_requester_placeholder_is_checked(
    write_policy: PolicyWriter, path: str, error: str
) -> None:
    grant = f'[rule.grant.dirs.workspace]\npath = "{path}"\n'
    _, findings = lint_policy_dir(write_policy(ALLOW_ECHO + grant))
    assert len(findings) == 1
    assert error in findings[0].message
