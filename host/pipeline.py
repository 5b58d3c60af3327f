"""The whole path of one capability request, without XMPP: validate, decide, confirm, run, audit.

::

    pipeline = Pipeline(engine, registry, audit, confirmer=..., runner=sandbox.run)
    outcome = pipeline.handle("fs.read", {"path": "a.md"}, requester="alice@example.org",
                              origin="chat", conversation_id="alice@example.org")

Write-ahead (design invariant 6): each step's audit record is durable before the step's effect.
``request.received`` (or ``request.invalid``) before the decision, ``policy.decision`` before any
confirmation or run, ``run.started`` before the sandbox starts, ``run.result`` after it ends. If a
record cannot be written, :class:`AuditError` propagates and nothing after it happens.

The sandbox gets exactly the effective grant of the decision (``Grant.run_spec``), the module
digest the registry verified, and the arguments as JSON on stdin. Host calls go to a broker
built from the same grant. The agent loop reaches it through
:class:`host.gateway.PolicyGateway`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from host.audit.record import AuditEvent
from host.audit.sink import AuditSink, JsonValue
from host.audit.store import ContentStore, output_summary
from host.errors import AirlockError, RequestError, SandboxError
from host.policy.decision import Decision
from host.policy.engine import PolicyEngine
from host.policy.grant import Grant
from host.request.digest import action_digest, grant_json
from host.request.model import (
    REQUEST_ID,
    CapabilityRequest,
    Origin,
    build_request,
    new_request_id,
)
from host.skills.broker import Broker, SecretsProvider, StaticSecrets
from host.skills.manifest import Manifest
from host.skills.outcome import Outcome, outcome
from host.skills.registry import SkillRegistry
from sandbox import supervisor
from sandbox.spec import HostCallHandler, RunResult, RunSpec

__all__ = ["Confirmer", "Pipeline", "PipelineOutcome", "Runner"]

Runner = Callable[[RunSpec, HostCallHandler | None], RunResult]
Status = Literal["done", "invalid", "denied", "rate_limited", "not_confirmed", "failed"]


class Confirmer(Protocol):
    """Asks the decision's approvers to confirm one action.

    Returns True only when enough of ``decision.approvers`` approved exactly ``digest`` in time
    and the approval was claimed for this one run (single use). Records its own audit events
    (``confirm.asked``, ``confirm.answered``, ``confirm.expired``) before acting on them.
    """

    def confirm(
        self, request: CapabilityRequest, decision: Decision, digest: str, manifest: Manifest
    ) -> bool: ...


@dataclass(frozen=True)
class PipelineOutcome:
    """How one request ended. ``answer`` is the skill's result or error when it ran.

    ``rate_limited`` is a policy denial for now only (the rule's rate limit is spent; the same
    request may be allowed later); ``denied`` is a denial the requester cannot wait out.
    """

    status: Status
    request_id: str
    message: str
    decision: Decision | None = None
    answer: Outcome | None = None

    def as_json(self) -> dict[str, Any]:
        """What goes back to the model: the skill's answer, or an error saying why not."""
        if self.answer is not None:
            return self.answer.as_json()
        return {"error": {"code": self.status, "message": self.message}}


def _summary(data: str, store: ContentStore | None) -> dict[str, JsonValue]:
    return output_summary(data.encode("utf-8", "surrogatepass"), store)


class Pipeline:
    """Runs requests end to end under one policy engine, skill registry and audit sink."""

    def __init__(
        self,
        engine: PolicyEngine,
        registry: SkillRegistry,
        audit: AuditSink,
        *,
        confirmer: Confirmer | None = None,
        runner: Runner = supervisor.run,
        secrets: SecretsProvider | None = None,
        outputs: ContentStore | None = None,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._audit = audit
        self._confirmer = confirmer
        self._runner = runner
        self._secrets = secrets or StaticSecrets({})
        self._outputs = outputs

    def announce_policy(self) -> str:
        """Record ``policy.loaded`` (digest, directory, files, rule count) for the policy now in
        force; call at start-up and after every successful reload. Returns the record hash."""
        policy = self._engine.policy
        return self._audit.record(
            AuditEvent.POLICY_LOADED,
            request_id=None,
            data={
                "policy_digest": policy.digest,
                "directory": str(policy.directory),
                "files": list(policy.files),
                "rules": len(policy.rules),
            },
        )

    @property
    def manifests(self) -> Mapping[str, Manifest]:
        return {skill.name: skill.manifest for skill in self._registry}

    def handle(
        self,
        skill: str,
        arguments: object,
        *,
        requester: str,
        origin: Origin,
        conversation_id: str,
        request_id: str | None = None,
    ) -> PipelineOutcome:
        """Take one request from validation to result. Raises AuditError (nothing more done).

        ``request_id`` lets the caller name the request before it ends (to hand out a pending
        reference while it runs); it must be fresh and match ``[A-Za-z0-9_-]{1,64}``, else
        RequestError is raised before anything is recorded. By default a random id is made.
        """
        if request_id is None:
            request_id = new_request_id()
        elif not isinstance(request_id, str) or not re.fullmatch(REQUEST_ID, request_id):
            raise RequestError(
                f"request id {str(request_id)[:80]!r} is not 1 to 64 of A-Z a-z 0-9 _ -",
                hint="pass None to get a random one (host.request.model.new_request_id)",
            )
        try:
            request = build_request(
                skill=skill,
                arguments=arguments,
                requester=requester,
                origin=origin,
                conversation_id=conversation_id,
                manifests=self.manifests,
                request_id=request_id,
            )
        except RequestError as exc:
            self._record(
                AuditEvent.REQUEST_INVALID,
                request_id,
                {
                    "skill": str(skill)[:64],
                    "requester": str(requester)[:256],
                    "origin": str(origin)[:16],
                    "error": str(exc)[:1000],
                },
            )
            return PipelineOutcome("invalid", request_id, str(exc))
        manifest = self._registry.get(request.skill).manifest
        encoded = json.dumps(request.arguments, sort_keys=True).encode()
        self._record(
            AuditEvent.REQUEST_RECEIVED,
            request_id,
            {
                "skill": request.skill,
                "requester": request.requester,
                "origin": request.origin,
                "conversation_id": request.conversation_id,
                "arguments_sha256": hashlib.sha256(encoded).hexdigest(),
                "arguments_bytes": len(encoded),
            },
        )
        decision = self._engine.decide(request, manifest)
        digest = action_digest(request, decision.grant)
        self._record(
            AuditEvent.POLICY_DECISION,
            request_id,
            {**decision.audit_data(), "action_digest": digest},
        )
        if decision.rate_limited:
            return PipelineOutcome("rate_limited", request_id, decision.reason, decision)
        if decision.effect == "deny":
            return PipelineOutcome("denied", request_id, decision.reason, decision)
        if decision.effect == "confirm" and not (
            self._confirmer and self._confirmer.confirm(request, decision, digest, manifest)
        ):
            return PipelineOutcome(
                "not_confirmed", request_id, "the action was not confirmed", decision
            )
        return self._run(request, manifest, decision, encoded)

    def _run(
        self, request: CapabilityRequest, manifest: Manifest, decision: Decision, encoded: bytes
    ) -> PipelineOutcome:
        rid = request.request_id
        skill = self._registry.get(request.skill)
        try:
            module_sha256 = skill.expected_sha256()
        except AirlockError as exc:
            self._record(AuditEvent.ERROR, rid, {"error": str(exc)[:1000]})
            return PipelineOutcome("failed", rid, str(exc), decision)
        spec = decision.grant.run_spec(
            skill.module_path, input=encoded, expected_sha256=module_sha256
        )
        self._record(
            AuditEvent.RUN_STARTED,
            rid,
            {
                "skill": request.skill,
                "module_sha256": module_sha256,
                "grant": grant_json(decision.grant),
                "require": [str(layer) for layer in sorted(spec.require)],
            },
        )
        try:
            _make_own_dirs(decision.own_dirs)
            result = self._runner(spec, self._host_calls(decision.grant, rid))
        except AirlockError as exc:
            self._record(AuditEvent.ERROR, rid, {"error": str(exc)[:1000]})
            return PipelineOutcome("failed", rid, str(exc), decision)
        self._record(
            AuditEvent.RUN_RESULT,
            rid,
            {
                "status": result.status.value,
                "exit_code": result.exit_code,
                "fuel_used": result.fuel_used,
                "wall_ms": round(result.wall_ms, 3),
                "peak_memory_bytes": result.peak_memory_bytes,
                "module_sha256": result.module_sha256,
                "stdout": _summary(result.stdout, self._outputs),
                "stderr": _summary(result.stderr, self._outputs),
                "error": result.error[:1000] if result.error else None,
                "enforcement": result.enforcement.model_dump(mode="json"),
            },
        )
        answer = outcome(result, manifest)
        if answer.ok:
            return PipelineOutcome("done", rid, "done", decision, answer)
        return PipelineOutcome("failed", rid, answer.error_message or "failed", decision, answer)

    def _host_calls(self, grant: Grant, request_id: str) -> HostCallHandler | None:
        if not grant.http:
            return None  # nothing to broker: every call gets the sandbox's "no handler" error
        return Broker(grant, self._secrets, self._audit, request_id=request_id)

    def _record(self, event: str, request_id: str, data: dict[str, JsonValue]) -> None:
        self._audit.record(event, request_id=request_id, data=data)


def _make_own_dirs(folders: tuple[Path, ...]) -> None:
    """Create the requester's own folders (``{requester}`` grants) if missing: mode 0700, only
    under a parent that exists (the deployer made it; a typo must not create a tree)."""
    for folder in folders:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SandboxError(
                f"cannot create the requester's folder {folder}: {exc.strerror}",
                hint=f"create its parent {folder.parent} for the skill's data",
            ) from None
