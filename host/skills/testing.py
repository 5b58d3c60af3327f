"""``airlock skill test``: run a skill's example cases in the real sandbox.

Each case gets fresh temporary directories for the manifest's directory labels (seeded with the
case's ``files``), a grant built from the manifest (its dirs, env names, secrets and limits; HTTP
only to the case's own loopback server), a broker with the case's secret values, and an
in-memory audit. The module's digest is checked as in production.
"""

from __future__ import annotations

import importlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from host.audit.sink import JsonValue
from host.errors import SkillError
from host.policy.grant import DirGrant, Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from host.skills.examples import Case, load_examples
from host.skills.loopback import serve
from host.skills.outcome import Outcome, outcome
from host.skills.registry import Skill
from sandbox.spec import HostCallHandler, RunResult, RunSpec

Runner = Callable[[RunSpec, HostCallHandler | None], RunResult]
SERVER = "${server}"


@dataclass
class MemoryAudit:
    """Audit events of one test run, kept in memory (``skill test`` is a developer tool)."""

    events: list[tuple[str, dict[str, JsonValue]]] = field(default_factory=list)

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        self.events.append((event, data))
        return f"{len(self.events):064x}"


@dataclass(frozen=True)
class CaseReport:
    """One case's verdict; ``problems`` is empty when it passed."""

    skill: str
    case: str
    problems: tuple[str, ...]
    outcome: Outcome | None

    @property
    def passed(self) -> bool:
        return not self.problems


def sandbox_runner() -> Runner:
    """The real sandbox's ``run``; SkillError if the sandbox package is not installed."""
    try:
        module = importlib.import_module("sandbox.supervisor")
    except ImportError as exc:
        raise SkillError(f"sandbox.supervisor not available: {exc}") from None
    run: Runner = module.run
    return run


@contextmanager
def warm_runner() -> Iterator[Runner]:
    """The sandbox's warm pool (pre-hardened zygotes): same runs, less start-up per case."""
    try:
        module = importlib.import_module("sandbox.supervisor")
    except ImportError as exc:
        raise SkillError(f"sandbox.supervisor not available: {exc}") from None
    with module.Sandbox() as box:
        run: Runner = box.run
        yield run


def run_examples(skill: Skill, runner: Runner | None = None) -> list[CaseReport]:
    """Run every example case of ``skill``; one report per case."""
    run = runner or sandbox_runner()
    digest = skill.module_sha256()
    return [run_case(skill, case, run, digest) for case in load_examples(skill.folder)]


def run_case(skill: Skill, case: Case, run: Runner, digest: str) -> CaseReport:
    """Run one case in a fresh temporary world and compare what the skill answered."""
    manifest = skill.manifest
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="airlock-case-")))
        base = stack.enter_context(serve(case.serve)) if case.serve else ""
        dirs = _seed(skill, case, root)
        http: tuple[HttpGrant, ...] = ()
        if base:
            methods = frozenset(m for need in manifest.capabilities.http for m in need.methods)
            http = (
                HttpGrant(
                    host=base.removeprefix("http://"),
                    methods=methods or frozenset({"GET"}),
                    unsafe_allow_private=True,  # the case's own server on 127.0.0.1
                ),
            )
        unknown_env = set(case.env) - set(manifest.capabilities.env)
        if unknown_env:
            raise SkillError(f"{skill.name}: case {case.name!r} sets undeclared env {unknown_env}")
        grant = Grant(
            dirs=dirs,
            http=http,
            env=tuple(sorted((k, v.replace(SERVER, base)) for k, v in case.env.items())),
            secrets=manifest.capabilities.secrets,
            limits=manifest.limits,
        )
        broker = None
        if manifest.capabilities.http:
            broker = Broker(grant, StaticSecrets(case.secrets), MemoryAudit(), request_id=None)
        args = _substitute(case.args, base)
        spec = grant.run_spec(
            skill.module_path, input=json.dumps(args).encode(), expected_sha256=digest
        )
        got = outcome(run(spec, broker), manifest)
        expected = Case.model_validate(
            {
                **case.model_dump(),
                "expect": _substitute(case.expect, base),
                "expect_subset": _substitute(case.expect_subset, base),
            }
        )
        problems = list(_compare(expected, got))
        problems.extend(_check_files(case, dirs))
    return CaseReport(skill=skill.name, case=case.name, problems=tuple(problems), outcome=got)


def _seed(skill: Skill, case: Case, root: Path) -> tuple[DirGrant, ...]:
    needs = {d.name: d for d in skill.manifest.capabilities.dirs}
    unknown = set(case.files) - set(needs)
    if unknown:
        raise SkillError(
            f"{skill.name}: case {case.name!r} seeds undeclared directories {sorted(unknown)}"
        )
    grants = []
    for name, need in needs.items():
        host = root / name
        host.mkdir()
        for rel, text in case.files.get(name, {}).items():
            target = host / _relative(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        grants.append(
            DirGrant(name=name, host_path=host, guest_path=need.guest, access=need.access)
        )
    return tuple(grants)


def _relative(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts:
        raise SkillError(f"example file path {rel!r} must be relative and stay in its directory")
    return path


def _substitute(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace(SERVER, base)
    if isinstance(value, list):
        return [_substitute(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, base) for k, v in value.items()}
    return value


def _compare(case: Case, got: Outcome) -> Iterator[str]:
    if case.expect_error is not None:
        if got.error_code != case.expect_error:
            yield f"expected error {case.expect_error!r}, got {_show(got)}"
        return
    if got.result is None:
        yield f"expected a result, got {_show(got)}"
        return
    if case.expect is not None and got.result != case.expect:
        yield f"expected {json.dumps(case.expect)}, got {json.dumps(got.result)}"
    for key, want in (case.expect_subset or {}).items():
        if got.result.get(key) != want:
            yield f"expected {key} = {json.dumps(want)}, got {json.dumps(got.result.get(key))}"
    for key, pattern in case.expect_pattern.items():
        value = got.result.get(key)
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            yield f"expected {key} to match /{pattern}/, got {json.dumps(value)}"


def _check_files(case: Case, dirs: tuple[DirGrant, ...]) -> Iterator[str]:
    hosts = {d.name: d.host_path for d in dirs}
    for label, gone in case.expect_absent.items():
        for rel in gone:
            if (hosts[label] / _relative(rel)).exists():
                yield f"expected {label}:{rel} to be absent"
    for label, files in case.expect_files.items():
        for rel, want in files.items():
            path = hosts[label] / _relative(rel)
            if not path.is_file():
                yield f"expected {label}:{rel} to exist"
            elif (text := path.read_text(encoding="utf-8", errors="replace")) != want:
                yield f"expected {label}:{rel} to hold {json.dumps(want)}, got {json.dumps(text)}"


def _show(got: Outcome) -> str:
    if got.result is not None:
        return f"result {json.dumps(got.result)[:300]}"
    stderr = got.run.stderr.strip()[-300:]
    tail = f" (stderr: {stderr})" if stderr else ""
    return f"error {got.error_code!r}: {got.error_message}{tail}"
