"""Loading a directory of policy files strictly: every problem is a finding with file and line.

A policy set is every ``*.toml`` file directly inside one directory, in file-name order (rules
keep their order within a file). Sub-directories are not read (``tests/`` holds the deployer's
policy test cases). :func:`lint_policy_dir` returns all findings; :func:`load_policy_dir`
refuses with a :class:`PolicyError` on the first error.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from host.audit.canonical import sha256_json
from host.errors import PolicyError
from host.policy import schema
from host.policy.constraints import compile_constraint
from host.policy.rules import ApproverRule, RequesterSet, Rule
from host.policy.schema import INLINE_SECRET, PolicyDoc, RuleDoc, check_host_path
from host.policy.source import Finding, SourceIndex
from host.request.jid import parse_bare_jid
from host.skills.manifest import Manifest

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_RULES",
    "PolicySet",
    "lint_policy_dir",
    "load_policy_dir",
]

# A realistic deployment has a few hundred rules (~100 KiB); 1 MiB per file leaves room for a
# generated file and stops a runaway one before it costs memory or start-up time.
MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 256  # one file per team or per skill family is plenty
MAX_RULES = 20_000  # the engine is benchmarked to 10,000; beyond twice that, split the host

_log = logging.getLogger("airlock.policy")
_TOML_LINE = re.compile(r"at line (\d+)")
_KNOWN_KEYS = sorted(
    {
        name
        for model in vars(schema).values()
        if isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields
    }
    | {"fuel", "memory_mb", "timeout_s", "max_output_kb", "max_host_calls"}
)


@dataclass(frozen=True)
class PolicySet:
    """A loaded, checked policy set. ``digest`` identifies exactly these file contents."""

    directory: Path
    files: tuple[str, ...]
    rules: tuple[Rule, ...]
    digest: str
    warnings: tuple[Finding, ...] = ()


class _Problem(Exception):
    """A rule-compilation problem; ``needle`` is text to find its line by."""

    def __init__(self, message: str, needle: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.needle, self.hint = message, needle, hint


def _arrays_as_tuples(value: Any) -> Any:
    """TOML arrays come back as lists; the strict models take tuples (immutable rules)."""
    if isinstance(value, list):
        return tuple(_arrays_as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _arrays_as_tuples(v) for k, v in value.items()}
    return value


def _pydantic_findings(
    exc: ValidationError,
    path: Path,
    index: SourceIndex,
    prefix: tuple[str | int, ...],
    label: str = "",
) -> list[Finding]:
    """One finding per validation error; ``label`` (e.g. "rule `x`: ") prefixes each message."""
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        inner = [str(p) for p in err["loc"] if not isinstance(p, int)]
        message = str(err["msg"]).removeprefix("Value error, ").replace("valid tuple", "array")
        hint = None
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            message = f"unknown key `{key}`"
            close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            hint = f"did you mean `{close[0]}`?" if close else "see docs/policy.md for every key"
        elif err["type"] == "missing":
            message = f"missing key `{loc[-1]}`"
        elif inner:
            message = f"`{'.'.join(inner)}`: {message}"
        out.append(Finding(path, index.line_of(loc), label + message, hint))
    return out


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
                    raise _Problem(f"unknown group `{name}`", entry, "define it under [groups]")
                pending.extend(groups[name])
            elif entry.startswith("domain:"):
                domains.add(parse_bare_jid(entry.removeprefix("domain:")))
            elif entry.startswith("room:"):
                rooms.add(parse_bare_jid(entry.removeprefix("room:")))
            else:
                jids.add(parse_bare_jid(entry))
        except ValueError as exc:
            raise _Problem(f"requester {entry!r}: {exc}", entry) from None
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
                raise _Problem(f"approver group {entry!r} is undefined or empty", entry)
        for member in members:
            if member == "requester":
                include_requester = True
                continue
            try:
                jid = parse_bare_jid(member)
            except ValueError as exc:
                raise _Problem(f"approver {member!r}: {exc}", member) from None
            if "@" not in jid or member.startswith(("domain:", "room:", "*")):
                raise _Problem(
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
        raise _Problem(
            f"`required` = {doc.confirm.required} but only {possible} approvers are named",
            "required",
        )
    return approvers


def _check_dirs(doc: RuleDoc, policy_dir: Path) -> None:
    for label, given in doc.grant.dirs.items():
        real = os.path.realpath(given.path)
        try:
            check_host_path(real)
        except ValueError as exc:
            raise _Problem(
                f"dir `{label}` resolves through a symlink to {real}: {exc}", given.path
            ) from None
        if policy_dir.is_relative_to(real):
            raise _Problem(
                f"dir `{label}` ({given.path}) contains the policy directory {policy_dir}",
                given.path,
                "a skill must never see (or rewrite) the policy that governs it",
            )


def _read(path: Path) -> tuple[bytes | None, Finding | None]:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return None, Finding(
                path,
                1,
                "is a symlink; policy files must be regular files",
                "copy the file into the policy directory",
            )
        if not stat.S_ISREG(info.st_mode):
            return None, Finding(path, 1, "is not a regular file")
        if info.st_mode & stat.S_IWOTH:
            return None, Finding(path, 1, "is writable by every user", f"chmod o-w {path}")
        if info.st_size > MAX_FILE_BYTES:
            return None, Finding(
                path,
                1,
                f"is {info.st_size} bytes; at most {MAX_FILE_BYTES}",
                "split it into several files",
            )
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1), None
    except OSError as exc:
        return None, Finding(path, 1, f"cannot read: {exc.strerror}")


def _load_file(
    path: Path, data: bytes, policy_dir: Path, first_order: int
) -> tuple[list[Rule], list[Finding]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [Finding(path, data[: exc.start].count(b"\n") + 1, "is not UTF-8 text")]
    index = SourceIndex(text)
    findings = [
        Finding(
            path,
            n,
            "looks like a credential written inline",
            "store it in the secret store and grant it by name with `secrets = [NAME]`",
        )
        for n, line in enumerate(index.lines, 1)
        if INLINE_SECRET.search(line)
    ]
    try:
        raw: dict[str, Any] = _arrays_as_tuples(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else 1
        return [], [*findings, Finding(path, line, f"not valid TOML: {exc}")]
    except (RecursionError, ValueError) as exc:  # arrays nested thousands deep, huge integers
        reason = "nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        return [], [*findings, Finding(path, 1, f"cannot be read as a policy: {reason}")]
    rule_docs = raw.pop("rule", [])
    try:
        top = PolicyDoc.model_validate(raw)
    except ValidationError as exc:
        return [], findings + _pydantic_findings(exc, path, index, ())
    if not isinstance(rule_docs, tuple):
        return [], [
            *findings,
            Finding(
                path, index.line_of(("rule",)), "`rule` must be an array of tables: write [[rule]]"
            ),
        ]
    rules: list[Rule] = []
    for i, item in enumerate(rule_docs):
        try:
            doc = RuleDoc.model_validate(item)
        except ValidationError as exc:
            name = item.get("id") if isinstance(item, dict) else None
            label = f"rule `{name}`: " if isinstance(name, str) else f"rule #{i + 1}: "
            findings += _pydantic_findings(exc, path, index, ("rule", i), label[:80])
            continue
        start = index.rule_line(i)
        try:
            _check_dirs(doc, policy_dir)
            rules.append(
                Rule(
                    id=doc.id,
                    file=path,
                    line=start,
                    order=first_order + len(rules),
                    effect=doc.effect,
                    reason=doc.reason,
                    skills=doc.skills,
                    requesters=_requesters(doc.requesters, top.groups),
                    origins=frozenset(doc.origins),
                    constraints=tuple(compile_constraint(n, c) for n, c in doc.args.items()),
                    grant=doc.grant,
                    approvers=_approvers(doc, top.groups),
                    rate=doc.rate,
                    unsafe_allow_destructive=doc.unsafe_allow_destructive,
                )
            )
        except _Problem as problem:
            line = index.line_containing(start, problem.needle)
            findings.append(
                Finding(path, line, f"rule `{doc.id}`: {problem.message}", problem.hint)
            )
    return rules, findings


def _cross_checks(rules: list[Rule]) -> list[Finding]:
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


def _warnings(rules: list[Rule], manifests: Mapping[str, Manifest] | None) -> list[Finding]:
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


def lint_policy_dir(
    directory: Path, manifests: Mapping[str, Manifest] | None = None
) -> tuple[PolicySet | None, list[Finding]]:
    """Load ``directory`` and return (the set, or None if any error) and every finding.

    With ``manifests``, also warns about rules that match no installed skill, grant directory
    labels no matched skill declares, or allow destructive skills (which still need confirming).
    """
    try:
        info = directory.stat()
    except OSError as exc:
        return None, [Finding(directory, 0, f"cannot open policy directory: {exc.strerror}")]
    if not stat.S_ISDIR(info.st_mode):
        return None, [Finding(directory, 0, "is not a directory")]
    if info.st_mode & stat.S_IWOTH:
        return None, [Finding(directory, 0, "is writable by every user", f"chmod o-w {directory}")]
    policy_dir = directory.resolve()
    paths = sorted(p for p in directory.iterdir() if p.name.endswith(".toml"))
    if not paths:
        return None, [
            Finding(directory, 0, "holds no *.toml policy file", "start from policies/default.toml")
        ]
    if len(paths) > MAX_FILES:
        return None, [
            Finding(directory, 0, f"holds {len(paths)} policy files; at most {MAX_FILES}")
        ]
    rules: list[Rule] = []
    findings: list[Finding] = []
    digests: list[list[str]] = []
    for path in paths:
        data, problem = _read(path)
        if problem or data is None:
            findings.append(problem or Finding(path, 1, "cannot read"))
            continue
        digests.append([path.name, sha256_json(data.hex())])
        file_rules, file_findings = _load_file(path, data, policy_dir, len(rules))
        rules += file_rules
        findings += file_findings
        if len(rules) > MAX_RULES:
            findings.append(Finding(path, 1, f"the set has more than {MAX_RULES} rules"))
            break
    findings += _cross_checks(rules)
    errors = [f for f in findings if f.severity == "error"]
    warnings = _warnings(rules, manifests)
    if errors:
        return None, errors + warnings
    digest = sha256_json({"v": 1, "files": digests})
    return PolicySet(
        directory, tuple(p.name for p in paths), tuple(rules), digest, tuple(warnings)
    ), warnings


def load_policy_dir(directory: Path, manifests: Mapping[str, Manifest] | None = None) -> PolicySet:
    """The policy set in ``directory``; PolicyError naming the file, line and fix otherwise."""
    policy, findings = lint_policy_dir(directory, manifests)
    if policy is None:
        errors = [f for f in findings if f.severity == "error"]
        first = errors[0]
        more = f"; {len(errors) - 1} more problems" if len(errors) > 1 else ""
        raise PolicyError(
            str(first),
            hint=f"run `airlock policy check {directory}` to list every problem{more}",
        )
    for warning in policy.warnings:
        _log.warning("%s", warning)
    return policy
