"""Which skills a requester's policy could ever allow: what ``#skills`` and the model are shown.

A skill is offered when some ``allow`` or ``confirm`` rule naming it could apply to the
requester on one of the origins asked about, and no ``deny`` rule always refuses it to them.
"Could apply" ignores argument constraints (some arguments may pass) and rate limits (they
refill); "always refuses" is a deny rule with no constraints that matches the requester by JID,
domain or ``anyone`` on every origin asked about. A ``confirm`` rule whose approvers cannot
reach its quorum for this requester (four eyes: the requester is not among their approvers)
always ends in deny, so it offers nothing. The listing errs towards hiding: it never shows a
skill the policy always denies, so it reveals nothing the requester could not use.
"""

from __future__ import annotations

from collections.abc import Iterable

from host.policy.loader import PolicySet
from host.policy.rules import RequesterSet, Rule

__all__ = ["ALL_ORIGINS", "could_allow"]

ALL_ORIGINS = frozenset({"chat", "room", "protocol"})


def _names(requesters: RequesterSet, requester: str) -> bool:
    """The rule's requester set names ``requester`` itself (not only through a room)."""
    if requesters.anyone or requester in requesters.jids:
        return True
    return requester.rpartition("@")[2] in requesters.domains


def _may_apply(rule: Rule, requester: str, origins: frozenset[str]) -> bool:
    reachable = rule.origins & origins
    if not reachable:
        return False
    if _names(rule.requesters, requester):
        return True
    # A room-scoped rule applies to whoever speaks in that room: the requester may be there.
    return bool(rule.requesters.rooms) and "room" in reachable


def _always_denies(rule: Rule, requester: str, origins: frozenset[str]) -> bool:
    return (
        rule.effect == "deny"
        and not rule.constraints
        and origins <= rule.origins
        and _names(rule.requesters, requester)
    )


def _quorum_possible(rule: Rule, requester: str) -> bool:
    if rule.effect != "confirm" or rule.approvers is None:
        return True
    return len(rule.approvers.resolve(requester)) >= rule.approvers.required


def could_allow(
    policy: PolicySet, skill: str, requester: str, origins: Iterable[str] = ALL_ORIGINS
) -> bool:
    """True when some request by ``requester`` for ``skill`` on one of ``origins`` could be
    allowed, or allowed after confirmation, under ``policy``."""
    wanted = frozenset(origins) & ALL_ORIGINS
    who = requester.lower()
    rules = [r for r in policy.rules if r.skill_matches(skill)]
    if any(_always_denies(r, who, wanted) for r in rules):
        return False
    return any(
        r.effect in ("allow", "confirm") and _may_apply(r, who, wanted) and _quorum_possible(r, who)
        for r in rules
    )
