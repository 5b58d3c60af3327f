"""What a sandboxed run asks for (:class:`RunSpec`) and what it returns (:class:`RunResult`).

These models are the contract between the host (policy, skills, CLI) and the sandbox. The host
builds a ``RunSpec`` from an *effective grant* only; the sandbox never widens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sandbox.harden.shapes import missing_layers
from sandbox.kinds import (
    DEFAULT_FUEL,
    DEFAULT_MAX_HOST_CALLS,
    DEFAULT_MAX_INPUT_KB,
    DEFAULT_MAX_OUTPUT_KB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    MAX_FUEL,
    MAX_MEMORY_MB,
    MAX_OUTPUT_KB,
    MAX_TIMEOUT_S,
    Layer,
    Status,
)

__all__ = [
    "DEFAULT_FUEL",
    "DEFAULT_MAX_HOST_CALLS",
    "DEFAULT_MAX_INPUT_KB",
    "DEFAULT_MAX_OUTPUT_KB",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "MAX_FUEL",
    "MAX_MEMORY_MB",
    "MAX_OUTPUT_KB",
    "MAX_TIMEOUT_S",
    "Enforcement",
    "HostCallHandler",
    "Layer",
    "Limits",
    "Preopen",
    "RunResult",
    "RunSpec",
    "Status",
]


class Limits(BaseModel):
    """Resource limits for one run. Every field has a finite default and a hard ceiling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fuel: Annotated[int, Field(gt=0, le=MAX_FUEL)] = DEFAULT_FUEL
    memory_mb: Annotated[int, Field(gt=0, le=MAX_MEMORY_MB)] = DEFAULT_MEMORY_MB
    timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)] = DEFAULT_TIMEOUT_S
    max_output_kb: Annotated[int, Field(gt=0, le=MAX_OUTPUT_KB)] = DEFAULT_MAX_OUTPUT_KB
    max_host_calls: Annotated[int, Field(ge=0, le=10_000)] = DEFAULT_MAX_HOST_CALLS

    def narrowed(self, other: Limits) -> Limits:
        """The field-wise minimum of two limit sets (never wider than either)."""
        return Limits(
            fuel=min(self.fuel, other.fuel),
            memory_mb=min(self.memory_mb, other.memory_mb),
            timeout_s=min(self.timeout_s, other.timeout_s),
            max_output_kb=min(self.max_output_kb, other.max_output_kb),
            max_host_calls=min(self.max_host_calls, other.max_host_calls),
        )


class Preopen(BaseModel):
    """One host directory made visible to the module at ``guest_path``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host_path: Path
    guest_path: str
    access: Literal["ro", "rw"] = "ro"


class RunSpec(BaseModel):
    """Everything one sandboxed run is allowed: nothing else is inherited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: Path
    expected_sha256: str | None = None  # refuse to run if the module's digest differs
    input: bytes = b""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[Preopen, ...] = ()
    limits: Limits = Limits()
    require: frozenset[Layer] = frozenset()


class Enforcement(BaseModel):
    """What the kernel actually enforced on the child for this run (not what was hoped for)."""

    model_config = ConfigDict(extra="forbid")

    landlock_abi: int | None = None
    landlock_rules: list[str] = Field(default_factory=list)  # e.g. ["fs", "net", "scope"]
    no_new_privs: bool = False
    capabilities_dropped: bool = False
    seccomp: bool = False
    seccomp_denied: list[str] = Field(default_factory=list)
    rlimits: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)  # degraded layers, with the reason

    def missing(self, require: frozenset[Layer]) -> list[str]:
        """The layers of ``require`` this enforcement does not show, sorted."""
        return missing_layers(self, require)


class RunResult(BaseModel):
    """The outcome of one run, as printed by ``airlock sandbox run`` and written to the audit."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    fuel_used: int | None = None
    wall_ms: float = 0.0
    peak_memory_bytes: int | None = None
    error: str | None = None
    module_sha256: str | None = None
    enforcement: Enforcement = Field(default_factory=Enforcement)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


class HostCallHandler(Protocol):
    """Serves the ``airlock`` host calls a module makes (see docs/skill-abi.md).

    The sandbox forwards each call's request bytes from the child and hands back the reply bytes;
    it enforces size and count caps but does not interpret the JSON. The handler runs in the
    supervisor (the trusted side) and must never raise for a bad request: it answers with an
    error document instead.
    """

    def __call__(self, request: bytes) -> bytes: ...
