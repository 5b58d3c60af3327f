"""Checks across a whole policy set: duplicate ids, unreachable rules, and warnings.

"Unreachable" is defined in docs/policy.md: a rule is an error when an earlier rule of the same
effect matches every request it matches (:meth:`Rule.covers`). Candidates are found through the
same skill index the engine uses, so the check stays near-linear for large sets.
"""

from __future__ import annotations

from collections.abc import Mapping

from host.policy.rules import Rule
from host.policy.source import Finding
from host.skills.manifest import Manifest

__all__ = ["cross_checks", "warnings_for"]


def cross_checks(rules: list[Rule]) -> list[Finding]:
    """Duplicate ids, and rules that an earlier rule of the same effect makes unreachable."""
    findings: list[Finding] = []
    seen: dict[str, Rule] = {}
    by_skill: dict[str, list[Rule]] = {}
    with_globs: list[Rule] = []
    for rule in rules:
        if rule.id in seen:
            first = seen[rule.id]
            findings.append(
                Finding(
                    rule.file,
                    rule.line,
                    f"rule id `{rule.id}` is already used at {first.file}:{first.line}",
                    "rule ids must be unique across the set",
                )
            )
        seen.setdefault(rule.id, rule)
        earlier = list(with_globs)
        if not rule.glob_skills:
            for skill in rule.exact_skills:
                earlier += by_skill.get(skill, [])
        for prior in sorted(set(earlier), key=lambda r: r.order):
            if prior.effect == rule.effect and prior.covers(rule):
                findings.append(
                    Finding(
                        rule.file,
                        rule.line,
                        f"rule `{rule.id}` can never decide: the earlier rule `{prior.id}` "
                        f"({prior.file.name}:{prior.line}) has the same effect ({rule.effect}) and "
                        f"matches every request `{rule.id}` matches",
                        f"remove `{rule.id}`, move it before `{prior.id}`, or narrow `{prior.id}`",
                    )
                )
                break
        if rule.glob_skills:
            with_globs.append(rule)
        for skill in rule.exact_skills:
            by_skill.setdefault(skill, []).append(rule)
    return findings


def warnings_for(rules: list[Rule], manifests: Mapping[str, Manifest] | None) -> list[Finding]:
    out = []
    for rule in rules:
        if rule.unsafe_allow_destructive:
            out.append(
                Finding(
                    rule.file,
                    rule.line,
                    f"rule `{rule.id}` allows destructive skills "
                    "without confirmation (unsafe_allow_destructive)",
                    severity="warning",
                )
            )
        if any(h.unsafe_allow_private for h in rule.grant.http):
            out.append(
                Finding(
                    rule.file,
                    rule.line,
                    f"rule `{rule.id}` lets the broker reach "
                    "private addresses (unsafe_allow_private)",
                    severity="warning",
                )
            )
        if manifests is None:
            continue
        matched = [m for name, m in manifests.items() if rule.skill_matches(name)]
        if not matched:
            out.append(
                Finding(
                    rule.file,
                    rule.line,
                    f"rule `{rule.id}` matches no installed skill ({', '.join(rule.skills)})",
                    severity="warning",
                )
            )
        labels = {d.name for m in matched for d in m.capabilities.dirs}
        for label in sorted(set(rule.grant.dirs) - labels):
            if matched:
                out.append(
                    Finding(
                        rule.file,
                        rule.line,
                        f"rule `{rule.id}` grants dir "
                        f"`{label}` that none of its skills declares; it is never given",
                        severity="warning",
                    )
                )
        for m in matched:
            for need in m.capabilities.dirs:
                given = rule.grant.dirs.get(need.name)
                if given is not None and given.access == "rw" and need.access == "ro":
                    out.append(
                        Finding(
                            rule.file,
                            rule.line,
                            f"rule `{rule.id}` grants dir `{need.name}` rw, but {m.name} "
                            "declares it ro: that skill gets it read-only",
                            severity="warning",
                        )
                    )
        if rule.effect == "allow" and not rule.unsafe_allow_destructive:
            for m in matched:
                if m.destructive:
                    out.append(
                        Finding(
                            rule.file,
                            rule.line,
                            f"rule `{rule.id}` allows "
                            f"destructive skill {m.name}: it will still ask the "
                            "requester to confirm",
                            severity="warning",
                        )
                    )
    return out
