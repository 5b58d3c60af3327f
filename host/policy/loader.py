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
from host.policy.compile import RuleProblem, compile_rule
from host.policy.lint import cross_checks, warnings_for
from host.policy.rules import Rule
from host.policy.schema import INLINE_SECRET, PolicyDoc, RuleDoc
from host.policy.source import Finding, SourceIndex
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
            if close and close[0] == key:  # a real key, in the wrong table
                hint = (
                    f"`{key}` belongs to another table: in TOML a key after a [table] header "
                    "belongs to that table, so move it above the header"
                )
            else:
                hint = f"did you mean `{close[0]}`?" if close else "see docs/policy.md"
        elif err["type"] == "missing":
            message = f"missing key `{loc[-1]}`"
        elif inner:
            message = f"`{'.'.join(inner)}`: {message}"
        out.append(Finding(path, index.line_of(loc), label + message, hint))
    return out


def _read(path: Path) -> tuple[bytes | None, Finding | None]:
    """The bytes of one policy file, or why it is refused. Checks are made on the descriptor
    that is read (opened without following a final symlink), so a swap between the check and
    the read cannot smuggle another file in."""
    if path.is_symlink():
        return None, Finding(
            path,
            1,
            "is a symlink; policy files must be regular files",
            "copy the file into the policy directory",
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        return None, Finding(path, 1, f"cannot read: {exc.strerror}")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
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
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return None, Finding(path, 1, f"cannot read: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:  # it grew after the size check
        return None, Finding(path, 1, f"is over {MAX_FILE_BYTES} bytes")
    return data, None


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
            rules.append(
                compile_rule(
                    doc,
                    top.groups,
                    file=path,
                    line=start,
                    order=first_order + len(rules),
                    policy_dir=policy_dir,
                )
            )
        except RuleProblem as problem:
            line = index.line_containing(start, problem.needle)
            findings.append(
                Finding(path, line, f"rule `{doc.id}`: {problem.message}", problem.hint)
            )
    return rules, findings


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
    findings += cross_checks(rules)
    errors = [f for f in findings if f.severity == "error"]
    warnings = warnings_for(rules, manifests)
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
