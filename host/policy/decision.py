"""What the policy engine answers: a :class:`Decision`, and optionally why (:class:`Verdict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from host.audit.sink import JsonValue
from host.policy.grant import Grant
from host.policy.schema import Effect
from host.request.digest import grant_json

__all__ = ["Approvers", "Decision", "Verdict"]


@dataclass(frozen=True)
class Approvers:
    """Who must confirm: ``required`` distinct JIDs out of ``jids``, within ``expires_s``."""

    jids: tuple[str, ...]
    required: int
    expires_s: int

    def to_json(self) -> dict[str, JsonValue]:
        return {"jids": list(self.jids), "required": self.required, "expires_s": self.expires_s}


@dataclass(frozen=True)
class Verdict:
    """How one rule related to one request, for explanations."""

    rule_id: str
    location: str  # "file:line"
    effect: Effect
    outcome: str  # "decided", "matched (outranked: ...)" or "did not match: <reason>"


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one request.

    ``effect`` is final: ``confirm`` means "run only after ``approvers`` confirm the action
    digest", ``deny`` means never. ``grant`` is the effective grant (empty on deny) and
    ``policy_digest`` identifies the exact policy files the decision was made under.
    ``explanation`` is filled only when the caller asked for it (it costs a pass over all rules).
    ``own_dirs`` lists the granted folders that are the requester's own (``{requester}``).
    ``rate_limited`` is set (with ``effect`` deny) only when a matching rule would have decided
    but its rate limit is spent: callers tell "later" from "never" by this flag, not by wording.
    """

    effect: Effect
    rule_id: str | None
    policy_digest: str
    reason: str
    grant: Grant = field(default_factory=Grant)
    approvers: Approvers | None = None
    explanation: tuple[Verdict, ...] = ()
    # Host folders of the grant that are the requester's own (``{requester}`` paths): the
    # pipeline creates them (mode 0700, under the deployer's existing parent) before a run.
    own_dirs: tuple[Path, ...] = ()
    rate_limited: bool = False

    @property
    def allowed(self) -> bool:
        """True only for ``allow`` (``confirm`` still needs approvals)."""
        return self.effect == "allow"

    def audit_data(self) -> dict[str, JsonValue]:
        """The decision as audit record data (no secrets: secret names only)."""
        return {
            "effect": self.effect,
            "rule": self.rule_id,
            "policy_digest": self.policy_digest,
            "reason": self.reason,
            "grant": grant_json(self.grant) if self.effect != "deny" else None,
            "approvers": self.approvers.to_json() if self.approvers else None,
        }
