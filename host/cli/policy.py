"""``airlock policy``: lint a policy directory, explain a decision, run the deployer's tests.

::

    airlock policy check DIR [--skills DIR]       findings as file:line: message; exit 1 on errors
    airlock policy explain --policy DIR --request FILE.json [--skills DIR]
    airlock policy test DIR [--skills DIR]        cases in DIR/tests/*.toml; exit 1 on a failure

``--skills`` is the folder of installed skills (default: ./skills_wasm); their manifests give
argument schemas, directory labels and which skills are destructive.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from host.errors import AirlockError
from host.policy.engine import PolicyEngine
from host.policy.loader import lint_policy_dir
from host.policy.testcases import run_policy_tests
from host.request.digest import grant_json
from host.request.model import parse_request
from host.skills.manifest import Manifest
from host.skills.registry import SkillRegistry

EXIT_OK, EXIT_FINDINGS = 0, 1
DEFAULT_SKILLS = Path("skills_wasm")


def _manifests(skills: Path) -> dict[str, Manifest]:
    return {skill.name: skill.manifest for skill in SkillRegistry.load(skills)}


def _check(args: argparse.Namespace) -> int:
    manifests = None
    if args.skills is not None or DEFAULT_SKILLS.is_dir():
        try:
            manifests = _manifests(args.skills or DEFAULT_SKILLS)
        except AirlockError as exc:
            if args.skills is not None:
                raise
            print(f"note: skills not checked ({exc})")
    policy, findings = lint_policy_dir(args.dir, manifests)
    for finding in findings:
        print(finding)
    if policy is None:
        errors = sum(1 for f in findings if f.severity == "error")
        print(f"{errors} error(s) in {args.dir}")
        return EXIT_FINDINGS
    print(f"OK {len(policy.rules)} rules in {len(policy.files)} file(s); digest {policy.digest}")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    manifests = _manifests(args.skills)
    engine = PolicyEngine.from_dir(args.policy)
    try:
        raw = args.request.read_bytes()
    except OSError as exc:
        raise AirlockError(f"cannot read {args.request}: {exc.strerror}") from None
    request = parse_request(raw, manifests)
    decision = engine.decide(request, manifests[request.skill], explain=True, consume=False)
    print(f"decision: {decision.effect}")
    print(f"rule:     {decision.rule_id or '(none: default deny)'}")
    print(f"reason:   {decision.reason}")
    print(f"policy:   {decision.policy_digest}")
    if decision.approvers:
        a = decision.approvers
        print(f"approvers: {a.required} of {', '.join(a.jids)} within {a.expires_s} s")
    if decision.effect != "deny":
        print("grant:")
        print(json.dumps(grant_json(decision.grant), indent=2, sort_keys=True))
    print("rules:")
    for verdict in decision.explanation:
        print(f"  {verdict.rule_id} ({verdict.effect}, {verdict.location}): {verdict.outcome}")
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    results = run_policy_tests(args.dir, _manifests(args.skills))
    for r in results:
        status = "pass" if r.passed else "FAIL"
        print(f"{status} {r.file.name}:{r.line} {r.name}: {r.got}")
        if r.problem:
            print(f"     {r.problem}")
    failed = sum(1 for r in results if not r.passed)
    print(f"{len(results) - failed} passed, {failed} failed")
    return EXIT_FINDINGS if failed else EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``airlock policy {check,explain,test}``."""
    parser = subparsers.add_parser("policy", help="check, explain and test policy files")
    sub = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    check = sub.add_parser("check", help="lint a policy directory (exit 1 on errors)")
    check.add_argument("dir", type=Path, metavar="DIR")
    check.add_argument("--skills", type=Path, help="skills folder (default ./skills_wasm)")
    check.set_defaults(func=_check)

    explain = sub.add_parser("explain", help="which rule decides a request, and why")
    explain.add_argument("--policy", type=Path, required=True, metavar="DIR")
    explain.add_argument("--request", type=Path, required=True, metavar="FILE.json")
    explain.add_argument("--skills", type=Path, default=DEFAULT_SKILLS, metavar="DIR")
    explain.set_defaults(func=_explain)

    test = sub.add_parser("test", help="run the policy tests in DIR/tests/*.toml")
    test.add_argument("dir", type=Path, metavar="DIR")
    test.add_argument("--skills", type=Path, default=DEFAULT_SKILLS, metavar="DIR")
    test.set_defaults(func=_test)
