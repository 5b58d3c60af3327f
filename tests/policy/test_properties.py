"""Property tests: default deny, deny wins, and grants never wider than either side."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from host.policy.constraints import compile_constraint, host_allowed
from host.policy.engine import PolicyEngine
from host.policy.intersect import effective_grant
from host.policy.loader import PolicySet
from host.policy.ratelimit import RateLimiter
from host.policy.rules import ApproverRule, RequesterSet, Rule
from host.policy.schema import ArgConstraint, GrantDoc, RateDoc
from host.request import build_request
from tests.policy.conftest import manifest

SKILLS = ["a.x", "a.y", "b.z"]
PATH_PARAMS = {"type": "object", "properties": {"path": {"type": "string"}}}
DIRS = {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "ro"}]}
MANIFESTS = {s: manifest(s, parameters=PATH_PARAMS, capabilities=DIRS) for s in SKILLS}
JIDS = ["u1@d.org", "u2@d.org", "u3@e.org"]

rule_specs = st.lists(
    st.tuples(
        st.sampled_from(["allow", "confirm", "deny"]),
        st.lists(st.sampled_from([*SKILLS, "a.*", "*"]), min_size=1, max_size=2, unique=True),
        st.lists(
            st.sampled_from(["u1@d.org", "u2@d.org", "domain:e.org", "*"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
        st.sampled_from([None, "*.md", "**"]),
    ),
    max_size=8,
)


def build_rules(specs: list[tuple[str, list[str], list[str], str | None]]) -> tuple[Rule, ...]:
    rules = []
    for order, (effect, skills, who, glob) in enumerate(specs):
        requesters = RequesterSet(
            anyone="*" in who,
            jids=frozenset(w for w in who if "@" in w),
            domains=frozenset(w.removeprefix("domain:") for w in who if w.startswith("domain:")),
            rooms=frozenset(),
        )
        constraints = ()
        if glob is not None:
            spec = ArgConstraint(within="workspace", glob=(glob,))
            constraints = (compile_constraint("path", spec),)
        rules.append(
            Rule(
                id=f"r{order}",
                file=Path("p.toml"),
                line=order + 1,
                order=order,
                effect=effect,  # type: ignore[arg-type]
                reason="no" if effect == "deny" else "",
                skills=tuple(skills),
                requesters=requesters,
                origins=frozenset({"chat"}),
                constraints=constraints,
                grant=GrantDoc(),
                rate=RateDoc(),
                approvers=ApproverRule(True, (), 1, 60) if effect == "confirm" else None,
                unsafe_allow_destructive=False,
            )
        )
    return tuple(rules)


@settings(max_examples=150, deadline=None)
@given(
    specs=rule_specs,
    skill=st.sampled_from(SKILLS),
    requester=st.sampled_from(JIDS),
    path=st.sampled_from(["x.md", "d/y.md", "z.key", "../x.md"]),
)
def test_decisions_follow_the_documented_precedence(
    specs: list[tuple[str, list[str], list[str], str | None]], skill: str, requester: str, path: str
) -> None:
    rules = build_rules(specs)
    engine = PolicyEngine(
        PolicySet(Path("."), ("p.toml",), rules, "0" * 64), limiter=RateLimiter(clock=lambda: 0.0)
    )
    request = build_request(
        skill=skill,
        arguments={"path": path},
        requester=requester,
        origin="chat",
        conversation_id="c",
        manifests=MANIFESTS,
    )
    decision = engine.decide(request, MANIFESTS[skill], consume=False)
    matching = [r for r in rules if r.mismatch(request, MANIFESTS[skill]) is None]
    effects = [r.effect for r in matching]
    if "deny" in effects:  # a deny anywhere wins
        assert (decision.effect, decision.rule_id) == ("deny", matching[effects.index("deny")].id)
    elif "confirm" in effects:
        assert (decision.effect, decision.rule_id) == (
            "confirm",
            matching[effects.index("confirm")].id,
        )
    elif "allow" in effects:
        assert (decision.effect, decision.rule_id) == ("allow", matching[effects.index("allow")].id)
    else:  # nothing is allowed without a matching allow or confirm rule
        assert (decision.effect, decision.rule_id) == ("deny", None)
        assert decision.grant.dirs == ()


HOSTS = ["api.example.org", "*.example.org", "x.example.org", "other.net", "*.other.net"]
methods = st.lists(st.sampled_from(["GET", "POST", "DELETE"]), min_size=1, max_size=3, unique=True)
access = st.sampled_from(["ro", "rw"])
limits = st.fixed_dictionaries(
    {
        "fuel": st.integers(1, 10**10),
        "memory_mb": st.integers(1, 4096),
        "timeout_s": st.floats(0.1, 600),
        "max_output_kb": st.integers(1, 65536),
    }
)


@settings(max_examples=100, deadline=None)  # each example builds a Manifest: ~20 ms
@given(
    need_dirs=st.dictionaries(st.sampled_from(["workspace", "notes", "cache"]), access),
    give_dirs=st.dictionaries(st.sampled_from(["workspace", "notes", "tmp"]), access),
    need_http=st.lists(st.tuples(st.sampled_from([*HOSTS, "*"]), methods), max_size=3),
    give_http=st.lists(
        st.tuples(st.sampled_from(HOSTS), methods), max_size=3, unique_by=lambda t: t[0]
    ),
    need_env=st.sets(st.sampled_from(["LANG", "TZ", "HOME"])),
    give_env=st.dictionaries(st.sampled_from(["LANG", "TZ", "PATH"]), st.sampled_from(["C", "x"])),
    need_secrets=st.sets(st.sampled_from(["A", "B"])),
    give_secrets=st.sets(st.sampled_from(["B", "C"])),
    need_limits=limits,
    give_limits=limits,
)
def test_effective_grant_is_never_wider_than_either_side(
    need_dirs: dict[str, str],
    give_dirs: dict[str, str],
    need_http: list[tuple[str, list[str]]],
    give_http: list[tuple[str, list[str]]],
    need_env: set[str],
    give_env: dict[str, str],
    need_secrets: set[str],
    give_secrets: set[str],
    need_limits: dict[str, float],
    give_limits: dict[str, float],
) -> None:
    m = manifest(
        "s",
        limits=need_limits,
        capabilities={
            "dirs": [{"name": n, "guest": f"/{n}", "access": a} for n, a in need_dirs.items()],
            "http": [{"host": h, "methods": ms} for h, ms in need_http],
            "env": sorted(need_env),
            "secrets": sorted(need_secrets),
        },
    )
    doc = GrantDoc.model_validate(
        {
            "dirs": {n: {"path": f"/srv/{n}", "access": a} for n, a in give_dirs.items()},
            "http": tuple({"host": h, "methods": tuple(ms)} for h, ms in give_http),
            "env": give_env,
            "secrets": tuple(sorted(give_secrets)),
            "limits": give_limits,
        }
    )
    grant = effective_grant(m, doc, "a@b.org")
    for d in grant.dirs:
        assert d.name in need_dirs
        assert d.name in give_dirs
        assert str(d.host_path) == f"/srv/{d.name}"
        assert d.guest_path == f"/{d.name}"
        if d.access == "rw":
            assert (need_dirs[d.name], give_dirs[d.name]) == ("rw", "rw")
    for h in grant.http:
        name = h.host.removeprefix("*.")
        assert any(
            h.host == g or (g.startswith("*.") and host_allowed(name, (g,)))
            for g, gm in give_http
            if h.methods <= set(gm)
        )
        assert any(
            n in ("*", h.host) or (n.startswith("*.") and host_allowed(name, (n,)))
            for n, _ in need_http
        )
        assert h.methods <= {x for _, ms in need_http for x in ms}
    assert {k for k, _ in grant.env} <= need_env & set(give_env)
    assert all(give_env[k] == v for k, v in grant.env)
    assert set(grant.secrets) <= need_secrets & give_secrets
    for field in ("fuel", "memory_mb", "timeout_s", "max_output_kb"):
        value = getattr(grant.limits, field)
        assert value <= getattr(m.limits, field)
        assert value <= getattr(doc.limits, field)
