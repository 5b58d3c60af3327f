"""``airlock run``: one capability request through the whole path, from the command line.

::

    airlock run SKILL --args JSON --as JID [--policy DIR] [--audit FILE] [--skills DIR]
                      [--outputs DIR]

The request is validated, decided by the policy, confirmed if the policy says so, audited and
run in the sandbox exactly as one from XMPP would be (origin ``cli``). The skill's answer is
printed as JSON on stdout.

Confirmation: there is deliberately no ``--yes``. When the decision is ``confirm``, the person at
the terminal may approve only if the requester is the single approver required, by typing
``yes`` on an interactive terminal; with stdin not a terminal, or approvers other than the
requester, the request is not confirmed (exit 4) and must go through the agent over XMPP.

Exit status: 0 done, 1 the skill failed (or the audit log could not be written), 2 usage or an
invalid request, 3 denied by policy, 4 not confirmed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from host.audit.log import AuditLog
from host.audit.record import AuditEvent
from host.audit.sink import AuditSink
from host.audit.store import ContentStore
from host.errors import AirlockError, AuditError
from host.pipeline import Pipeline
from host.policy.decision import Decision
from host.policy.engine import PolicyEngine
from host.request.model import CapabilityRequest
from host.skills.manifest import Manifest
from host.skills.registry import SkillRegistry

EXIT = {"done": 0, "failed": 1, "invalid": 2, "denied": 3, "rate_limited": 3, "not_confirmed": 4}
DEFAULT_AUDIT = Path("airlock-audit.jsonl")


class TerminalConfirmer:
    """Asks the requester on an interactive terminal; refuses everything it cannot ask."""

    def __init__(self, audit: AuditSink, stdin: TextIO, stderr: TextIO) -> None:
        self._audit = audit
        self._in = stdin
        self._err = stderr

    def confirm(
        self, request: CapabilityRequest, decision: Decision, digest: str, manifest: Manifest
    ) -> bool:
        approvers = decision.approvers
        rid = request.request_id
        if approvers is None or approvers.jids != (request.requester,) or approvers.required != 1:
            who = f"{approvers.required} of {', '.join(approvers.jids)}" if approvers else "?"
            print(f"needs confirmation by {who}: ask through the agent over XMPP", file=self._err)
            return False
        if not self._in.isatty():
            print("needs confirmation, and stdin is not a terminal: not confirmed", file=self._err)
            return False
        self._audit.record(
            AuditEvent.CONFIRM_ASKED,
            request_id=rid,
            data={
                "action_digest": digest,
                "approvers": list(approvers.jids),
                "channel": "cli",
            },
        )
        print(f"{request.skill}: {manifest.effect or manifest.description}", file=self._err)
        print(f"arguments: {json.dumps(request.arguments, ensure_ascii=False)}", file=self._err)
        print(f"action {digest[:16]}; type yes to run it: ", end="", file=self._err, flush=True)
        answer = self._in.readline().strip().lower()
        approved = answer == "yes"
        self._audit.record(
            AuditEvent.CONFIRM_ANSWERED,
            request_id=rid,
            data={
                "action_digest": digest,
                "by": request.requester,
                "channel": "cli",
                "approved": approved,
            },
        )
        return approved


def _run(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        raise AirlockError(
            f"--args is not JSON: {exc}", hint='e.g. --args \'{"text": "hi"}\''
        ) from None
    registry = SkillRegistry.load(args.skills)
    engine = PolicyEngine.from_dir(args.policy)
    try:
        with AuditLog(args.audit) as audit:
            confirmer = TerminalConfirmer(audit, sys.stdin, sys.stderr)
            outputs = ContentStore(args.outputs) if args.outputs else None
            pipeline = Pipeline(engine, registry, audit, confirmer=confirmer, outputs=outputs)
            pipeline.announce_policy()
            result = pipeline.handle(
                args.skill, arguments, requester=args.as_jid, origin="cli", conversation_id="cli"
            )
    except AuditError as exc:
        print(f"airlock: refused: {exc}", file=sys.stderr)
        return EXIT["failed"]
    print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    if result.status != "done":
        print(
            f"airlock: {result.status}: {result.message} (request {result.request_id})",
            file=sys.stderr,
        )
    return EXIT[result.status]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``airlock run``."""
    parser = subparsers.add_parser(
        "run",
        help="run one skill through policy, confirmation, audit and the sandbox",
        description="Exit status: 0 done, 1 skill failed, 2 usage or invalid request, "
        "3 denied, 4 not confirmed. There is no --yes: see docs/policy.md.",
    )
    parser.add_argument("skill", metavar="SKILL")
    parser.add_argument("--args", default="{}", metavar="JSON", help="the arguments object")
    parser.add_argument("--as", dest="as_jid", required=True, metavar="JID", help="requester")
    parser.add_argument("--policy", type=Path, default=Path("policies"), metavar="DIR")
    parser.add_argument("--audit", type=Path, default=DEFAULT_AUDIT, metavar="FILE")
    parser.add_argument("--skills", type=Path, default=Path("skills_wasm"), metavar="DIR")
    parser.add_argument(
        "--outputs",
        type=Path,
        metavar="DIR",
        help="also keep stdout/stderr in this content-addressed store (the log has digests only)",
    )
    parser.set_defaults(func=_run)
