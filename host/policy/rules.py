"""A policy rule compiled for matching: requester sets, skill patterns, argument constraints.

:class:`Rule` is built by the loader from a :class:`host.policy.schema.RuleDoc` once, so that a
decision only does set lookups and the few regex matches its argument constraints need.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from host.policy.constraints import CompiledConstraint
from host.policy.schema import Effect, GrantDoc, RateDoc

if TYPE_CHECKING:
    from host.request.model import CapabilityRequest
    from host.skills.manifest import Manifest

__all__ = ["ApproverRule", "RequesterSet", "Rule"]


@dataclass(frozen=True)
class RequesterSet:
    """Who a rule applies to: anyone, exact bare JIDs, whole domains, or requests from rooms."""

    anyone: bool
    jids: frozenset[str]
    domains: frozenset[str]
    rooms: frozenset[str]

    def matches(self, request: CapabilityRequest) -> bool:
        """True when ``request`` comes from a requester in this set."""
        return self.admits(request.requester, request.origin, request.conversation_id)

    def admits(self, requester: str, origin: str, conversation_id: str) -> bool:
        """True when ``requester`` (a normalised bare JID) asking from there is in this set."""
        if self.anyone or requester in self.jids:
            return True
        if self.domains and requester.rpartition("@")[2] in self.domains:
            return True
        return bool(self.rooms and origin == "room" and conversation_id in self.rooms)

    def covers(self, other: RequesterSet) -> bool:
        """True when every request ``other`` matches is matched by this set too."""
        if self.anyone:
            return True
        if other.anyone or not other.rooms <= self.rooms or not other.domains <= self.domains:
            return False
        return all(j in self.jids or j.rpartition("@")[2] in self.domains for j in other.jids)

    def describe(self) -> str:
        if self.anyone:
            return "anyone"
        parts = sorted(self.jids) + [f"domain:{d}" for d in sorted(self.domains)]
        return ", ".join(parts + [f"room:{r}" for r in sorted(self.rooms)])


@dataclass(frozen=True)
class ApproverRule:
    """Who may approve a ``confirm`` rule: optionally the requester, plus named JIDs.

    The requester is an approver only when the rule lists ``"requester"``: a named approver
    who makes a request cannot approve it (four eyes), so N-of-M counts the others.
    """

    include_requester: bool
    jids: tuple[str, ...]
    required: int
    expires_s: int

    def resolve(self, requester: str) -> tuple[str, ...]:
        """The distinct approver JIDs for a request by ``requester``, in a stable order."""
        if self.include_requester:
            return tuple(dict.fromkeys((requester, *self.jids)))
        return tuple(j for j in self.jids if j != requester)


@dataclass(frozen=True, eq=False)
class Rule:
    """One compiled ``[[rule]]``; ``order`` is its position in the whole policy set."""

    id: str
    file: Path
    line: int
    order: int
    effect: Effect
    reason: str
    skills: tuple[str, ...]
    requesters: RequesterSet
    origins: frozenset[str]
    constraints: tuple[CompiledConstraint, ...]
    grant: GrantDoc
    approvers: ApproverRule | None
    rate: RateDoc
    unsafe_allow_destructive: bool

    @property
    def exact_skills(self) -> tuple[str, ...]:
        return tuple(s for s in self.skills if "*" not in s)

    @property
    def glob_skills(self) -> tuple[str, ...]:
        return tuple(s for s in self.skills if "*" in s)

    def skill_matches(self, skill: str) -> bool:
        return any(p == skill or ("*" in p and fnmatchcase(skill, p)) for p in self.skills)

    def applies(self, request: CapabilityRequest, manifest: Manifest) -> bool:
        """True when this rule (already known to name the skill) applies to ``request``.

        The fast path of a decision: no reason strings are built.
        """
        return (
            request.origin in self.origins
            and self.requesters.matches(request)
            and all(c.check(request.arguments, manifest) is None for c in self.constraints)
        )

    def mismatch(self, request: CapabilityRequest, manifest: Manifest) -> str | None:
        """None when this rule applies to ``request``; otherwise the first reason it does not."""
        if not self.skill_matches(request.skill):
            return f"skill {request.skill} is not in {list(self.skills)}"
        if request.origin not in self.origins:
            return f"origin {request.origin} is not in {sorted(self.origins)}"
        if not self.requesters.matches(request):
            return f"requester {request.requester} is not in ({self.requesters.describe()})"
        for constraint in self.constraints:
            reason = constraint.check(request.arguments, manifest)
            if reason is not None:
                return reason
        return None

    def covers(self, later: Rule) -> bool:
        """True when this rule matches every request ``later`` matches (see docs/policy.md,
        "Unreachable rules"). Skill patterns only use ``*``, for which a pattern covers another
        exactly when it matches the other's text."""
        if not all(
            any(p == q or ("*" in q and fnmatchcase(p, q)) for q in self.skills)
            for p in later.skills
        ):
            return False
        if not later.origins <= self.origins or not self.requesters.covers(later.requesters):
            return False
        mine = {c.name: c.spec for c in self.constraints}
        theirs = {c.name: c.spec for c in later.constraints}
        return all(theirs.get(name) == spec for name, spec in mine.items())
