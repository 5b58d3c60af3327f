"""Compiling one validated ``[[rule]]`` into a :class:`Rule`: groups, approvers, host paths.

Checks here need more than the schema can see (the file's groups, the policy directory, the
filesystem); a failure is a :class:`RuleProblem` carrying text to find its line by.
"""

from __future__ import annotations

import os
from pathlib import Path

from host.policy.constraints import compile_constraint
from host.policy.rules import ApproverRule, RequesterSet, Rule
from host.policy.schema import RuleDoc, check_host_path
from host.request.jid import parse_bare_jid

__all__ = ["RuleProblem", "compile_rule"]


class RuleProblem(Exception):
    """A rule-compilation problem; ``needle`` is text to find its line by."""

    def __init__(self, message: str, needle: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.needle, self.hint = message, needle, hint


def _requesters(entries: tuple[str, ...], groups: dict[str, tuple[str, ...]]) -> RequesterSet:
    anyone, jids, domains, rooms = False, set(), set(), set()
    pending = list(entries)
    seen: set[str] = set()
    while pending:
        entry = pending.pop()
        if entry in seen:
            continue  # groups are flat (the schema refuses nesting); this is a second guard
        seen.add(entry)
        try:
            if entry == "*":
                anyone = True
            elif entry.startswith("group:"):
                name = entry.removeprefix("group:")
                if name not in groups:
                    raise RuleProblem(f"unknown group `{name}`", entry, "define it under [groups]")
                pending.extend(groups[name])
            elif entry.startswith("domain:"):
                domains.add(parse_bare_jid(entry.removeprefix("domain:")))
            elif entry.startswith("room:"):
                rooms.add(parse_bare_jid(entry.removeprefix("room:")))
            else:
                jids.add(parse_bare_jid(entry))
        except ValueError as exc:
            raise RuleProblem(f"requester {entry!r}: {exc}", entry) from None
    return RequesterSet(anyone, frozenset(jids), frozenset(domains), frozenset(rooms))


def _approvers(doc: RuleDoc, groups: dict[str, tuple[str, ...]]) -> ApproverRule | None:
    if doc.confirm is None:
        return None
    include_requester, jids = False, []
    for entry in doc.confirm.approvers:
        members = [entry]
        if entry.startswith("group:"):
            members = list(groups.get(entry.removeprefix("group:"), ()))
            if not members:
                raise RuleProblem(f"approver group {entry!r} is undefined or empty", entry)
        for member in members:
            if member == "requester":
                include_requester = True
                continue
            try:
                jid = parse_bare_jid(member)
            except ValueError as exc:
                raise RuleProblem(f"approver {member!r}: {exc}", member) from None
            if "@" not in jid or member.startswith(("domain:", "room:", "*")):
                raise RuleProblem(
                    f"approver {member!r} is not one person's bare JID",
                    member,
                    'approvers are exact JIDs (or "requester"): a domain or room would let '
                    "anyone there approve",
                )
            jids.append(jid)
    approvers = ApproverRule(
        include_requester, tuple(dict.fromkeys(jids)), doc.confirm.required, doc.confirm.expires_s
    )
    possible = len(approvers.jids) + (1 if include_requester else 0)
    if doc.confirm.required > possible:
        raise RuleProblem(
            f"`required` = {doc.confirm.required} but only {possible} approvers are named",
            "required",
        )
    return approvers


def _check_dirs(doc: RuleDoc, policy_dir: Path) -> None:
    for label, given in doc.grant.dirs.items():
        real = os.path.realpath(given.fixed_part)
        try:
            check_host_path(real)
        except ValueError as exc:
            raise RuleProblem(
                f"dir `{label}` resolves through a symlink to {real}: {exc}", given.path
            ) from None
        if policy_dir.is_relative_to(real):
            raise RuleProblem(
                f"dir `{label}` ({given.path}) contains the policy directory {policy_dir}",
                given.path,
                "a skill must never see (or rewrite) the policy that governs it",
            )


def compile_rule(
    doc: RuleDoc,
    groups: dict[str, tuple[str, ...]],
    *,
    file: Path,
    line: int,
    order: int,
    policy_dir: Path,
) -> Rule:
    """``doc`` ready to match; RuleProblem if a group, approver or host path is wrong."""
    _check_dirs(doc, policy_dir)
    return Rule(
        id=doc.id,
        file=file,
        line=line,
        order=order,
        effect=doc.effect,
        reason=doc.reason,
        skills=doc.skills,
        requesters=_requesters(doc.requesters, groups),
        origins=frozenset(doc.origins),
        constraints=tuple(compile_constraint(n, c) for n, c in doc.args.items()),
        grant=doc.grant,
        approvers=_approvers(doc, groups),
        rate=doc.rate,
        unsafe_allow_destructive=doc.unsafe_allow_destructive,
    )
