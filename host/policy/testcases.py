"""Deployers' policy tests: cases of request and expected decision kept beside the policies.

Cases live in ``POLICY_DIR/tests/*.toml``::

    [[case]]
    name = "a guest cannot delete"
    skill = "fs.delete"
    requester = "guest@example.org"
    arguments = { path = "notes.md" }
    expect = "deny"              # allow | confirm | deny | invalid (refused before policy)
    rule = "no-guest-deletes"    # optional: the rule that must decide
    approvers = ["bob@example.org"]   # optional, for confirm: exactly these approvers
    required = 1                 # optional, for confirm
    reason_contains = "guests"   # optional

``origin`` defaults to ``chat`` and ``conversation_id`` to the requester. Cases never consume
rate-limit tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from host.errors import PolicyError, RequestError
from host.policy.engine import PolicyEngine
from host.policy.source import SourceIndex
from host.request.model import build_request
from host.skills.manifest import Manifest
from host.tomlfile import parse_toml

__all__ = ["CaseResult", "PolicyCase", "run_policy_tests"]

MAX_CASE_FILE_BYTES = 1024 * 1024  # same bound as a policy file


class PolicyCase(BaseModel):
    """One ``[[case]]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    skill: str
    requester: str
    arguments: dict[str, Any] = {}
    origin: Literal["chat", "room", "protocol", "cli"] = "chat"
    conversation_id: str | None = None
    expect: Literal["allow", "confirm", "deny", "invalid"]
    rule: str | None = None
    approvers: list[str] | None = None
    required: int | None = None
    reason_contains: str | None = None


class _CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case: list[PolicyCase]


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case: ``problem`` is None when it passed."""

    file: Path
    line: int
    name: str
    got: str
    problem: str | None

    @property
    def passed(self) -> bool:
        return self.problem is None


def _load_cases(path: Path) -> list[tuple[int, PolicyCase]]:
    try:
        if not path.is_file():  # a FIFO or device would block or never end
            raise PolicyError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_CASE_FILE_BYTES:
            raise PolicyError(f"{path}: larger than {MAX_CASE_FILE_BYTES} bytes")
        raw = path.read_bytes()
        data = parse_toml(raw, source=f"policy test file {path}", error=PolicyError)
        text = raw.decode("utf-8")  # parse_toml has checked it
        doc = _CaseFile.model_validate(data)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        index = SourceIndex(text.replace("[[case]]", "[[rule]]"))
        loc = tuple("rule" if p == "case" else p for p in first["loc"])
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{path}:{index.line_of(loc)}: `{where}`: {first['msg']}") from None
    lines = SourceIndex(text.replace("[[case]]", "[[rule]]"))
    return [(lines.rule_line(i), case) for i, case in enumerate(doc.case)]


def _check(
    case: PolicyCase, engine: PolicyEngine, manifests: Mapping[str, Manifest]
) -> tuple[str, str | None]:
    try:
        request = build_request(
            skill=case.skill,
            arguments=case.arguments,
            requester=case.requester,
            origin=case.origin,
            conversation_id=case.conversation_id or case.requester,
            manifests=manifests,
        )
    except RequestError as exc:
        if case.expect == "invalid":
            return "invalid", None
        return "invalid", f"expected {case.expect}, but the request is invalid: {exc}"
    decision = engine.decide(request, manifests[case.skill], consume=False)
    got = f"{decision.effect} by {decision.rule_id or 'default deny'}"
    if decision.effect != case.expect:
        return got, f"expected {case.expect}, got {got}: {decision.reason}"
    if case.rule is not None and decision.rule_id != case.rule:
        return got, f"expected rule {case.rule} to decide, got {decision.rule_id or 'default deny'}"
    approvers = decision.approvers
    if case.approvers is not None and (
        approvers is None or sorted(approvers.jids) != sorted(case.approvers)
    ):
        return (
            got,
            f"expected approvers {case.approvers}, got {approvers.jids if approvers else None}",
        )
    if case.required is not None and (approvers is None or approvers.required != case.required):
        return (
            got,
            f"expected {case.required} approvals, got {approvers.required if approvers else None}",
        )
    if case.reason_contains is not None and case.reason_contains not in decision.reason:
        return got, f"the reason {decision.reason!r} does not contain {case.reason_contains!r}"
    return got, None


def run_policy_tests(
    policy_dir: Path, manifests: Mapping[str, Manifest], engine: PolicyEngine | None = None
) -> list[CaseResult]:
    """Run every case in ``policy_dir/tests/*.toml``; PolicyError if there are none or a file is
    malformed (a test suite that silently tests nothing would pass forever)."""
    engine = engine or PolicyEngine.from_dir(policy_dir)
    files = sorted((policy_dir / "tests").glob("*.toml"))
    if not files:
        raise PolicyError(
            f"no policy tests in {policy_dir / 'tests'}",
            hint="add [[case]] tables to a .toml file there (see docs/policy.md)",
        )
    results = []
    for path in files:
        for line, case in _load_cases(path):
            got, problem = _check(case, engine, manifests)
            results.append(CaseResult(path, line, case.name, got, problem))
    return results
