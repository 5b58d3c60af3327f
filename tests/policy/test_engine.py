"""Decisions: default deny, precedence, destructive skills, approvers, rate limits, reloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.errors import PolicyError
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.policy.ratelimit import RateLimiter
from host.request import CapabilityRequest, build_request
from host.request.model import Origin
from tests.policy.conftest import PolicyWriter, starter_manifests

MANIFESTS = starter_manifests()


def req(
    skill: str = "fs.read",
    requester: str = "alice@example.org",
    origin: Origin = "chat",
    conversation: str = "c1",
    **arguments: object,
) -> CapabilityRequest:
    if not arguments and skill.startswith("fs."):
        arguments = {"path": "notes.md"}
    return build_request(
        skill=skill,
        arguments=arguments,
        requester=requester,
        origin=origin,
        conversation_id=conversation,
        manifests=MANIFESTS,
    )


def engine(directory: Path, clock: list[float] | None = None) -> PolicyEngine:
    limiter = RateLimiter(clock=(lambda: clock[0]) if clock else lambda: 0.0)
    return PolicyEngine(load_policy_dir(directory), limiter=limiter)


def rule(
    rid: str, effect: str, skills: str = '["fs.read"]', who: str = '["*"]', extra: str = ""
) -> str:
    reason = 'reason = "not here"\n' if effect == "deny" else ""
    return (
        f'\n[[rule]]\nid = "{rid}"\nskills = {skills}\nrequesters = {who}\n'
        f'effect = "{effect}"\n{reason}{extra}'
    )


WS = '[rule.grant.dirs.workspace]\npath = "/srv/airlock/ws"\naccess = "rw"\n'
APPROVERS = '[rule.confirm]\napprovers = ["bob@example.org", "carol@example.org"]\nrequired = 2\n'


def test_no_matching_rule_means_deny(write_policy: PolicyWriter) -> None:
    decision = engine(write_policy(rule("echo", "allow", '["echo"]'))).decide(
        req(), MANIFESTS["fs.read"]
    )
    assert (decision.effect, decision.rule_id) == ("deny", None)
    assert decision.reason == (
        "no policy rule allows skill fs.read for alice@example.org (origin chat); "
        "the default is deny"
    )


def test_deny_in_any_file_wins_over_allow(write_policy: PolicyWriter) -> None:
    write_policy(rule("read", "allow"), "a.toml")
    directory = write_policy(rule("block", "deny", who='["domain:example.org"]'), "b.toml")
    decision = engine(directory).decide(req(), MANIFESTS["fs.read"])
    assert (decision.effect, decision.rule_id, decision.reason) == ("deny", "block", "not here")
    assert decision.policy_digest == load_policy_dir(directory).digest


def test_confirm_wins_over_allow_and_carries_approvers(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule("read", "allow") + rule("check", "confirm", extra=APPROVERS))
    decision = engine(directory).decide(req(), MANIFESTS["fs.read"])
    assert (decision.effect, decision.rule_id) == ("confirm", "check")
    assert decision.approvers is not None
    assert decision.approvers.jids == ("bob@example.org", "carol@example.org")
    assert decision.approvers.required == 2


def test_requester_cannot_be_one_of_their_own_approvers(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule("check", "confirm", extra=APPROVERS))
    decision = engine(directory).decide(req(requester="bob@example.org"), MANIFESTS["fs.read"])
    assert (decision.effect, decision.rule_id) == ("deny", "check")
    assert decision.reason == (
        "rule check needs 2 approvers other than the requester, but only 1 can approve this request"
    )


def test_first_rule_of_an_effect_supplies_the_grant(write_policy: PolicyWriter) -> None:
    write_policy(rule("alice", "allow", who='["alice@example.org"]', extra=WS), "a.toml")
    directory = write_policy(rule("anyone", "allow"), "b.toml")
    decision = engine(directory).decide(req(), MANIFESTS["fs.read"])
    assert decision.rule_id == "alice"
    assert [(d.name, str(d.host_path), d.access) for d in decision.grant.dirs] == [
        ("workspace", "/srv/airlock/ws", "ro")  # the manifest of fs.read declares ro only
    ]


def test_destructive_allow_becomes_confirm_by_requester(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule("del", "allow", '["fs.delete"]', extra=WS))
    decision = engine(directory).decide(req("fs.delete"), MANIFESTS["fs.delete"])
    assert (decision.effect, decision.rule_id) == ("confirm", "del")
    assert decision.approvers is not None
    assert decision.approvers.jids == ("alice@example.org",)
    assert decision.grant.dirs[0].access == "rw"


def test_unsafe_allow_destructive_allows(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        rule("del", "allow", '["fs.delete"]', extra="unsafe_allow_destructive = true\n")
    )
    decision = engine(directory).decide(req("fs.delete"), MANIFESTS["fs.delete"])
    assert (decision.effect, decision.approvers) == ("allow", None)


def test_rooms_domains_and_origins(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        rule("room", "allow", who='["room:team@conference.example.org"]')
        + rule("cli", "allow", '["echo"]', who='["domain:example.net"]', extra='origins = ["cli"]')
    )
    policy = engine(directory)
    in_room = req(origin="room", conversation="team@conference.example.org")
    in_chat = req(origin="chat", conversation="team@conference.example.org")
    assert policy.decide(in_room, MANIFESTS["fs.read"]).effect == "allow"
    assert policy.decide(in_chat, MANIFESTS["fs.read"]).effect == "deny"
    from_net = req("echo", requester="dan@example.net", origin="cli", text="hi")
    assert policy.decide(from_net, MANIFESTS["echo"]).effect == "allow"
    chat_net = req("echo", requester="dan@example.net", origin="chat", text="hi")
    assert policy.decide(chat_net, MANIFESTS["echo"]).effect == "deny"


def test_path_constraints_stay_inside_the_label(write_policy: PolicyWriter) -> None:
    args = '[rule.args.path]\nwithin = "workspace"\nglob = ["docs/**/*.md", "*.txt"]\n'
    policy = engine(write_policy(rule("read", "allow", extra=args)))
    cases = {
        "docs/a/b.md": "allow",
        "docs/b.md": "allow",
        "/workspace/docs/c.md": "allow",
        "a.txt": "allow",
        "sub/a.txt": "deny",
        "docs/../../etc/passwd.md": "deny",
        "/etc/docs/x.md": "deny",
        "docs/x.key": "deny",
    }
    got = {p: policy.decide(req(path=p), MANIFESTS["fs.read"]).effect for p in cases}
    assert got == cases


def test_url_hosts_constraint(write_policy: PolicyWriter) -> None:
    args = '[rule.args.url]\nhosts = ["api.example.org", "*.wiki.org"]\n'
    grant = '[[rule.grant.http]]\nhost = "api.example.org"\nmethods = ["GET", "DELETE"]\n'
    policy = engine(write_policy(rule("fetch", "allow", '["http.fetch"]', extra=args + grant)))
    cases = {
        "https://api.example.org/x": "allow",
        "https://en.wiki.org/": "allow",
        "https://wiki.org/": "deny",
        "https://user:pw@api.example.org/": "deny",
        "file:///etc/passwd": "deny",
        "https://api.example.org.evil.com/": "deny",
    }
    got = {
        u: policy.decide(req("http.fetch", url=u), MANIFESTS["http.fetch"]).effect for u in cases
    }
    assert got == cases
    granted = policy.decide(
        req("http.fetch", url="https://api.example.org/"), MANIFESTS["http.fetch"]
    )
    assert [(h.host, sorted(h.methods)) for h in granted.grant.http] == [
        ("api.example.org", ["GET"])
    ]


def test_rate_limit_is_per_requester_and_refills(write_policy: PolicyWriter) -> None:
    clock = [0.0]
    directory = write_policy(
        rule("read", "allow", extra="[rule.rate]\nper_minute = 6\nburst = 2\n")
    )
    policy = engine(directory, clock)
    manifest = MANIFESTS["fs.read"]
    assert [policy.decide(req(), manifest).effect for _ in range(3)] == ["allow", "allow", "deny"]
    limited = policy.decide(req(), manifest)
    assert (
        limited.reason
        == "rate limit of rule read reached (6 per minute, burst 2); try again in 10 s"
    )
    assert policy.decide(req(requester="bob@example.org"), manifest).effect == "allow"
    assert policy.decide(req(), manifest, consume=False).effect == "allow"
    clock[0] = 10.0
    assert policy.decide(req(), manifest).effect == "allow"


def test_failed_reload_keeps_serving_the_last_good_policy(write_policy: PolicyWriter) -> None:
    directory = write_policy(rule("read", "allow"))
    policy = PolicyEngine.from_dir(directory)
    digest = policy.policy.digest
    write_policy(rule("read", "allow") + "\n[[rule]]\nid = 3\n")
    with pytest.raises(PolicyError, match=r"main.toml:\d+: "):
        policy.reload()
    decision = policy.decide(req(), MANIFESTS["fs.read"])
    assert (decision.effect, decision.policy_digest) == ("allow", digest)
    write_policy(rule("read", "deny"))
    assert policy.reload().digest != digest
    assert policy.decide(req(), MANIFESTS["fs.read"]).effect == "deny"


def test_explanation_covers_every_rule(write_policy: PolicyWriter) -> None:
    directory = write_policy(
        rule("echo", "allow", '["echo"]')
        + rule("read", "allow")
        + rule("check", "confirm", extra=APPROVERS)
    )
    decision = engine(directory).decide(req(), MANIFESTS["fs.read"], explain=True)
    assert [(v.rule_id, v.location, v.outcome) for v in decision.explanation] == [
        ("echo", "main.toml:2", "did not match: skill fs.read is not in ['echo']"),
        ("read", "main.toml:8", "matched, but rule check (confirm) outranks allow"),
        ("check", "main.toml:14", "decided"),
    ]


def test_manifest_must_be_the_requested_skill(write_policy: PolicyWriter) -> None:
    with pytest.raises(PolicyError, match=r"manifest echo is not that of skill fs\.read"):
        engine(write_policy(rule("read", "allow"))).decide(req(), MANIFESTS["echo"])


def test_offered_skills_follow_requesters_origins_and_outright_denies(
    write_policy: PolicyWriter,
) -> None:
    directory = write_policy(
        rule("read", "allow", '["fs.*"]', who='["domain:example.org"]')
        + rule("no-delete", "deny", '["fs.delete"]')
        + rule(
            "keys",
            "deny",
            '["fs.read"]',
            extra='[rule.args.path]\nwithin = "workspace"\nglob = ["*.key"]\n',
        )
        + rule("echo", "allow", '["echo"]', extra='origins = ["cli"]')
    )
    policy = engine(directory)
    names = sorted(MANIFESTS)
    offered = policy.offered_skills(
        names, requester="Alice@Example.org", origin="chat", conversation_id="c"
    )
    assert offered == ["fs.list", "fs.move", "fs.read", "fs.search", "fs.write"]
    assert (
        policy.offered_skills(
            names, requester="eve@evil.example", origin="chat", conversation_id="c"
        )
        == []
    )
    assert policy.offered_skills(
        ["echo"], requester="eve@evil.example", origin="cli", conversation_id="c"
    ) == ["echo"]


def test_requester_folders_are_per_requester(write_policy: PolicyWriter) -> None:
    grant = '[rule.grant.dirs.workspace]\npath = "/srv/homes/{requester}"\naccess = "rw"\n'
    extra = "unsafe_allow_destructive = true\n" + grant
    policy = engine(write_policy(rule("own", "allow", '["fs.write"]', extra=extra)))
    args = {"path": "a", "content": "x"}
    alice = policy.decide(req("fs.write", **args), MANIFESTS["fs.write"])
    bob = policy.decide(req("fs.write", requester="Bob@Example.org", **args), MANIFESTS["fs.write"])
    assert [str(d.host_path) for d in alice.grant.dirs] == ["/srv/homes/alice@example.org"]
    assert [str(d.host_path) for d in bob.grant.dirs] == ["/srv/homes/bob@example.org"]
    assert [str(p) for p in bob.own_dirs] == ["/srv/homes/bob@example.org"]
