"""Turning a sandbox :class:`RunResult` into what a skill answered: a result or an error.

The ABI (docs/skill-abi.md): exit 0 with one JSON object on stdout is a result; a non-zero exit
with ``{"error": {"code": ..., "message": ...}}`` on stdout is the skill's own error; anything
else (a trap, fuel or time exhausted, garbage on stdout) is reported with a code of its own so
the model and the audit can tell a refusal from a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from host.skills.manifest import Manifest
from sandbox.spec import RunResult, Status

ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_MESSAGE_CHARS = 1000  # an error message goes to the model and a chat; keep it a sentence


@dataclass(frozen=True)
class Outcome:
    """What one run of a skill answered."""

    run: RunResult
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def as_json(self) -> dict[str, Any]:
        """The document handed back to the model: the result, or ``{"error": ...}``."""
        if self.result is not None:
            return self.result
        return {"error": {"code": self.error_code, "message": self.error_message}}


def outcome(run: RunResult, manifest: Manifest) -> Outcome:
    """Classify ``run`` of ``manifest``'s skill (never raises on bad module output)."""
    if run.status is Status.OK:
        doc = _one_object(run.stdout)
        if doc is None or ("error" in doc and len(doc) == 1):
            return Outcome(run, error_code="bad_result", error_message=_bad_stdout(run.stdout))
        if manifest.result is not None:
            try:
                jsonschema.validate(doc, manifest.result)
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
                return Outcome(
                    run,
                    error_code="bad_result",
                    error_message=f"result does not match the manifest's schema at {where}: "
                    f"{exc.message[:200]}",
                )
        return Outcome(run, result=doc)
    if run.status is Status.EXIT_NONZERO:
        doc = _one_object(run.stdout)
        error = doc.get("error") if doc else None
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if isinstance(code, str) and ERROR_CODE.match(code) and isinstance(message, str):
                return Outcome(run, error_code=code, error_message=message[:MAX_MESSAGE_CHARS])
        return Outcome(
            run,
            error_code="skill_failed",
            error_message=f"the skill exited with status {run.exit_code} without an error object",
        )
    return Outcome(
        run, error_code=run.status.value, error_message=(run.error or run.status.value)[:300]
    )


def _one_object(stdout: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _bad_stdout(stdout: str) -> str:
    if not stdout.strip():
        return "the skill printed no result"
    return "the skill's output is not one JSON object"
