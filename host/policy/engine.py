"""The policy engine: decides a validated request against the loaded policy set.

Precedence (docs/policy.md, "How rules combine"): among the rules that match a request, any
``deny`` wins; otherwise any ``confirm`` wins over ``allow``; within one effect the first rule
in set order (files by name, then position in the file) decides and alone supplies the grant.
No matching rule means deny. A destructive skill decided by ``allow`` is turned into
``confirm`` by the requester unless that rule sets ``unsafe_allow_destructive = true``.

Rules are indexed by skill name, so a decision looks only at rules naming that skill or a
pattern matching it. Reloads swap the whole set at once; a failed reload keeps the last good set.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from host.errors import PolicyError
from host.policy.decision import Approvers, Decision, Verdict
from host.policy.grant import Grant
from host.policy.intersect import effective_grant
from host.policy.loader import PolicySet, load_policy_dir
from host.policy.ratelimit import RateLimiter
from host.policy.rules import Rule
from host.request.jid import parse_bare_jid
from host.request.model import CapabilityRequest, Origin
from host.skills.manifest import Manifest

__all__ = ["PolicyEngine"]

# Destructive skills allowed without `unsafe_allow_destructive` are confirmed by the requester
# within this time (the same default as [rule.confirm]).
IMPLICIT_CONFIRM_EXPIRES_S = 300


@dataclass
class _Indexed:
    """A policy set plus its skill index and per-skill caches (rebuilt on every reload)."""

    policy: PolicySet
    exact: dict[str, list[Rule]] = field(default_factory=dict)
    globbed: list[Rule] = field(default_factory=list)
    candidates: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    grants: dict[tuple[int, str], tuple[Manifest, Grant]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.policy.rules:
            for skill in rule.exact_skills:
                self.exact.setdefault(skill, []).append(rule)
            if rule.glob_skills:
                self.globbed.append(rule)

    def rules_for(self, skill: str) -> tuple[Rule, ...]:
        found = self.candidates.get(skill)
        if found is None:
            merged = set(self.exact.get(skill, ())) | {
                r for r in self.globbed if r.skill_matches(skill)
            }
            found = tuple(sorted(merged, key=lambda r: r.order))
            if len(self.candidates) < 100_000:  # skill names come from manifests: few
                self.candidates[skill] = found
        return found

    def grant(self, rule: Rule, manifest: Manifest, requester: str) -> Grant:
        if any(d.per_requester for d in rule.grant.dirs.values()):
            return effective_grant(manifest, rule.grant, requester)  # differs per requester
        key = (rule.order, manifest.name)
        cached = self.grants.get(key)
        if cached is not None and cached[0] is manifest:
            return cached[1]
        grant = effective_grant(manifest, rule.grant, requester)
        self.grants[key] = (manifest, grant)
        return grant


class PolicyEngine:
    """Decides requests under one policy set; thread-safe; reloadable."""

    def __init__(
        self,
        policy: PolicySet,
        *,
        limiter: RateLimiter | None = None,
        loader: Callable[[], PolicySet] | None = None,
    ) -> None:
        self._state = _Indexed(policy)
        self._limiter = limiter or RateLimiter()
        self._loader = loader
        self._reload_lock = threading.Lock()

    @classmethod
    def from_dir(cls, directory: Path, *, limiter: RateLimiter | None = None) -> PolicyEngine:
        """An engine serving ``directory`` (PolicyError if it does not load cleanly)."""
        return cls(
            load_policy_dir(directory), limiter=limiter, loader=lambda: load_policy_dir(directory)
        )

    @property
    def policy(self) -> PolicySet:
        """The policy set decisions are currently made under."""
        return self._state.policy

    def reload(self) -> PolicySet:
        """Load the policy again. On PolicyError the previous set keeps serving."""
        if self._loader is None:
            raise PolicyError("this engine was built from a policy set, not a directory")
        with self._reload_lock:
            policy = self._loader()  # raises before anything is swapped
            self._state = _Indexed(policy)
            return policy

    def offered_skills(
        self, skills: Iterable[str], *, requester: str, origin: Origin, conversation_id: str
    ) -> list[str]:
        """Of ``skills``, those this requester could ever be allowed from there: some allow or
        confirm rule names the skill and admits the requester and origin (argument constraints
        are not known yet, so they are ignored), and no deny rule without argument constraints
        refuses it outright. Used to decide which tools the model is told about; every actual
        request is still decided by :meth:`decide`."""
        who = parse_bare_jid(requester)
        state = self._state
        offered = []
        for skill in skills:
            rules = [
                r
                for r in state.rules_for(skill)
                if origin in r.origins and r.requesters.admits(who, origin, conversation_id)
            ]
            if any(r.effect == "deny" and not r.constraints for r in rules):
                continue
            if any(r.effect != "deny" for r in rules):
                offered.append(skill)
        return sorted(offered)

    def decide(
        self,
        request: CapabilityRequest,
        manifest: Manifest,
        *,
        explain: bool = False,
        consume: bool = True,
    ) -> Decision:
        """The decision for ``request`` (already validated against ``manifest``).

        ``explain`` adds a verdict for every rule in the set. ``consume`` (default) takes a
        rate-limit token when the decision is allow or confirm; explanations and policy tests
        pass ``consume=False``.
        """
        if manifest.name != request.skill:
            raise PolicyError(f"manifest {manifest.name} is not that of skill {request.skill}")
        state = self._state  # one consistent snapshot even if a reload happens meanwhile
        digest = state.policy.digest
        first: dict[str, Rule] = {}
        for rule in state.rules_for(request.skill):
            if rule.effect in first:
                continue  # an earlier rule of this effect already matched
            if rule.applies(request, manifest):
                first[rule.effect] = rule
                if rule.effect == "deny":
                    break
        decision = self._conclude(request, manifest, state, first, digest, consume)
        if explain:
            verdicts = _explain(request, manifest, state.policy, decision.rule_id)
            decision = replace(decision, explanation=verdicts)
        return decision

    def _conclude(
        self,
        request: CapabilityRequest,
        manifest: Manifest,
        state: _Indexed,
        first: dict[str, Rule],
        digest: str,
        consume: bool,
    ) -> Decision:
        if "deny" in first:
            rule = first["deny"]
            return Decision("deny", rule.id, digest, rule.reason)
        rule_or_none = first.get("confirm") or first.get("allow")
        if rule_or_none is None:
            return Decision(
                "deny",
                None,
                digest,
                f"no policy rule allows skill {request.skill} for {request.requester} "
                f"(origin {request.origin}); the default is deny",
            )
        rule = rule_or_none
        if consume:
            wait = self._limiter.take(rule.id, request.requester, rule.rate)
            if wait > 0:
                return Decision(
                    "deny",
                    rule.id,
                    digest,
                    f"rate limit of rule {rule.id} reached ({rule.rate.per_minute:g} per minute, "
                    f"burst {rule.rate.burst}); try again in {math.ceil(wait)} s",
                    rate_limited=True,
                )
        grant = state.grant(rule, manifest, request.requester)
        own = tuple(
            Path(d.host_path(request.requester))
            for label, d in rule.grant.dirs.items()
            if d.per_requester and any(g.name == label for g in grant.dirs)
        )
        if rule.effect == "allow":
            if manifest.destructive and not rule.unsafe_allow_destructive:
                approvers = Approvers((request.requester,), 1, IMPLICIT_CONFIRM_EXPIRES_S)
                return Decision(
                    "confirm",
                    rule.id,
                    digest,
                    f"rule {rule.id} allows {request.skill}, which is destructive: the requester "
                    "must confirm",
                    grant,
                    approvers,
                    own_dirs=own,
                )
            return Decision(
                "allow", rule.id, digest, f"allowed by rule {rule.id}", grant, own_dirs=own
            )
        assert rule.approvers is not None  # the loader guarantees it for confirm rules
        jids = rule.approvers.resolve(request.requester)
        if len(jids) < rule.approvers.required:
            return Decision(
                "deny",
                rule.id,
                digest,
                f"rule {rule.id} needs {rule.approvers.required} approvers other than the "
                f"requester, but only {len(jids)} can approve this request",
            )
        return Decision(
            "confirm",
            rule.id,
            digest,
            f"rule {rule.id} requires confirmation by {rule.approvers.required} of "
            f"{', '.join(jids)}",
            grant,
            Approvers(jids, rule.approvers.required, rule.approvers.expires_s),
            own_dirs=own,
        )


def _explain(
    request: CapabilityRequest, manifest: Manifest, policy: PolicySet, decided_by: str | None
) -> tuple[Verdict, ...]:
    """A verdict for every rule, in set order: why it decided, was outranked, or did not match."""
    out = []
    decided_effect = next((r.effect for r in policy.rules if r.id == decided_by), None)
    for rule in policy.rules:
        where = f"{rule.file.name}:{rule.line}"
        reason = rule.mismatch(request, manifest)
        if rule.id == decided_by:
            outcome = "decided"
        elif reason is None and decided_effect == rule.effect:
            outcome = f"matched, but the earlier rule {decided_by} has the same effect and decided"
        elif reason is None:
            outcome = f"matched, but rule {decided_by} ({decided_effect}) outranks {rule.effect}"
        else:
            outcome = f"did not match: {reason}"
        out.append(Verdict(rule.id, where, rule.effect, outcome))
    return tuple(out)
