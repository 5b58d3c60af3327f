"""Hostile or careless policy files: inline secrets, system-wide grants, symlink tricks, huge
files, and grants wider than the skill declares. Each is refused with file, line and fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from host.errors import PolicyError
from host.policy.engine import PolicyEngine
from host.policy.loader import MAX_FILE_BYTES, lint_policy_dir, load_policy_dir
from host.request import build_request
from tests.policy.conftest import PolicyWriter, policy_writer, starter_manifests

MANIFESTS = starter_manifests()


@pytest.fixture
def write_policy(tmp_path: Path) -> PolicyWriter:
    return policy_writer(tmp_path / "policies")


def rule_with(grant: str, skills: str = '["fs.read"]') -> str:
    return f'[[rule]]\nid = "r"\nskills = {skills}\nrequesters = ["*"]\neffect = "allow"\n{grant}'


def only_error(directory: Path) -> tuple[int, str, str | None]:
    policy, findings = lint_policy_dir(directory)
    assert policy is None
    errors = [f for f in findings if f.severity == "error"]
    assert len(errors) == 1, [str(f) for f in errors]
    return errors[0].line, errors[0].message, errors[0].hint


def test_policy_inline_token_anywhere_is_refused(write_policy: PolicyWriter) -> None:
    text = rule_with('[rule.grant.env]\nLANG = "C"\n# key: sk-ant-api03-abcdefghijklmnopqrstuv\n')
    line, message, hint = only_error(write_policy(text))
    assert (line, message) == (8, "looks like a credential written inline")
    assert hint == "store it in the secret store and grant it by name with `secrets = [NAME]`"


def test_policy_secret_values_in_a_secrets_table_are_refused(write_policy: PolicyWriter) -> None:
    line, message, _ = only_error(
        write_policy(rule_with('[rule.grant.secrets]\nSEARCH_API_KEY = "hunter2"\n'))
    )
    assert line == 6
    assert message.startswith("rule `r`: `grant.secrets`: secrets are references: list their names")


def test_policy_secret_like_env_is_refused(write_policy: PolicyWriter) -> None:
    line, message, _ = only_error(write_policy(rule_with('[rule.grant.env]\nGITHUB_TOKEN = "x"\n')))
    assert line == 6
    assert message == (
        "rule `r`: `grant.env`: env `GITHUB_TOKEN` looks like a secret written inline; move its "
        'value to the secret store and grant it by name: secrets = ["GITHUB_TOKEN"]'
    )


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "is a whole system directory"),
        ("/etc", "is inside /etc"),
        ("/etc/ssl/private", "is inside /etc"),
        ("/proc/self", "is inside /proc"),
        ("/root/work", "is inside /root"),
        ("/usr/lib", "is inside /usr"),
        ("/var/log/airlock", "is inside /var/log"),
        ("/home", "is a whole system directory"),
        ("/home/alice", "is a whole home directory"),
        ("/srv/team/.ssh", "contains .ssh"),
        ("/srv/a/../../etc", "must be normalised"),
        ("relative/dir", "must be absolute"),
    ],
)
def test_policy_grant_outside_sane_roots_is_refused(
    write_policy: PolicyWriter, path: str, why: str
) -> None:
    grant = f'[rule.grant.dirs.workspace]\npath = "{path}"\n'
    line, message, _ = only_error(write_policy(rule_with(grant)))
    assert line == 7
    assert message.startswith("rule `r`: `grant.dirs.workspace.path`: host path")
    assert why in message


def test_policy_symlink_into_etc_is_refused(write_policy: PolicyWriter, tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    grant = f'[rule.grant.dirs.workspace]\npath = "{link}"\n'
    line, message, _ = only_error(write_policy(rule_with(grant)))
    assert line == 7
    assert message == (
        "rule `r`: dir `workspace` resolves through a symlink to /etc: host path '/etc' is "
        "inside /etc, which no skill may see"
    )


def test_policy_grant_containing_the_policy_dir_is_refused(
    write_policy: PolicyWriter, tmp_path: Path
) -> None:
    grant = f'[rule.grant.dirs.workspace]\npath = "{tmp_path}"\naccess = "rw"\n'
    line, message, hint = only_error(write_policy(rule_with(grant)))
    assert line == 7
    assert message.endswith(f"contains the policy directory {tmp_path / 'policies'}")
    assert hint == "a skill must never see (or rewrite) the policy that governs it"


def test_policy_symlinked_file_escaping_the_directory_is_refused(
    write_policy: PolicyWriter, tmp_path: Path
) -> None:
    directory = write_policy(rule_with(""))
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(rule_with("").replace('"r"', '"evil"'))
    (directory / "zz.toml").symlink_to(outside)
    line, message, _ = only_error(directory)
    assert (line, message) == (1, "is a symlink; policy files must be regular files")


def test_policy_fifo_cannot_hang_the_loader(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule_with(""))
    os.mkfifo(directory / "zz.toml")  # opening it for reading would block forever
    assert only_error(directory) == (1, "is not a regular file", None)


def test_policy_world_writable_file_is_refused(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule_with(""))
    os.chmod(directory / "main.toml", 0o666)  # noqa: S103 (the attack under test)
    assert only_error(directory) == (
        1,
        "is writable by every user",
        f"chmod o-w {directory / 'main.toml'}",
    )


def test_policy_huge_file_is_refused(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule_with("") + ("# padding\n" * (MAX_FILE_BYTES // 10 + 1)))
    line, message, _ = only_error(directory)
    assert line == 1
    assert message.endswith(f"bytes; at most {MAX_FILE_BYTES}")


def test_policy_error_on_load_names_file_and_line(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule_with('[rule.grant.dirs.workspace]\npath = "/"\n'))
    with pytest.raises(PolicyError) as info:
        load_policy_dir(directory)
    assert info.value.message.startswith(f"{directory / 'main.toml'}:7: ")


def test_policy_grant_never_wider_than_the_manifest(write_policy: PolicyWriter) -> None:
    grant = (
        '[rule.grant.dirs.workspace]\npath = "/srv/ws"\naccess = "rw"\n'
        '[rule.grant.dirs.other]\npath = "/srv/other"\naccess = "rw"\n'
        '[rule.grant.env]\nSEARCH_ENDPOINT = "https://s.example.org"\nHOME = "/root"\n'
        '[[rule.grant.http]]\nhost = "api.example.org"\nmethods = ["GET", "DELETE"]\n'
        "[rule.grant.limits]\nfuel = 100_000_000_000\nmemory_mb = 4096\n"
    )
    directory = write_policy(rule_with(grant, skills='["fs.read", "web.search"]'))
    engine = PolicyEngine(load_policy_dir(directory))
    request = build_request(
        skill="fs.read",
        arguments={"path": "a"},
        requester="a@b.org",
        origin="chat",
        conversation_id="c",
        manifests=MANIFESTS,
    )
    grant_read = engine.decide(request, MANIFESTS["fs.read"]).grant
    assert [(d.name, d.access) for d in grant_read.dirs] == [("workspace", "ro")]  # not rw
    assert (grant_read.env, grant_read.http, grant_read.secrets) == ((), (), ())
    assert grant_read.limits == MANIFESTS["fs.read"].limits  # the rule's bigger limits lose
    search = build_request(
        skill="web.search",
        arguments={"query": "q"},
        requester="a@b.org",
        origin="chat",
        conversation_id="c",
        manifests=MANIFESTS,
    )
    grant_search = engine.decide(search, MANIFESTS["web.search"]).grant
    # HOME is not declared by the manifest
    assert grant_search.env == (("SEARCH_ENDPOINT", "https://s.example.org"),)
    assert grant_search.http == ()  # api.example.org is not a host web.search declares
    assert grant_search.secrets == ()  # declared, but this rule does not grant it
    assert (grant_search.limits.fuel, grant_search.limits.memory_mb) == (1_000_000, 64)


def test_policy_destructive_skill_is_never_silently_allowed(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule_with("", skills='["fs.*"]'))
    engine = PolicyEngine(load_policy_dir(directory))
    for skill in ("fs.write", "fs.delete", "fs.move"):
        args = {"path": "a", "content": "x"} if skill == "fs.write" else {"path": "a"}
        if skill == "fs.move":
            args = {"from": "a", "to": "b"}
        request = build_request(
            skill=skill,
            arguments=args,
            requester="a@b.org",
            origin="chat",
            conversation_id="c",
            manifests=MANIFESTS,
        )
        decision = engine.decide(request, MANIFESTS[skill])
        assert (decision.effect, decision.approvers and decision.approvers.jids) == (
            "confirm",
            ("a@b.org",),
        )
