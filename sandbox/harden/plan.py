"""What the hardening layers are asked to enforce: :class:`HardeningPlan` and :class:`RlimitPlan`.

A plan is built by the trusted supervisor from a run's grant and limits, and consumed by the child
before it reads a single untrusted byte. Both models are frozen and refuse unknown fields, so a
typo in a caller cannot silently widen a sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.harden.shapes import (
    DEFAULT_ADDRESS_SPACE_BYTES,
    DEFAULT_CPU_SECONDS,
    DEFAULT_FILE_SIZE_BYTES,
    DEFAULT_OPEN_FILES,
    DEFAULT_PROCESSES,
    MAX_ADDRESS_SPACE_BYTES,
    MAX_CPU_SECONDS,
    MAX_FILE_SIZE_BYTES,
    MAX_OPEN_FILES,
    MAX_PROCESSES,
)
from sandbox.kinds import Layer


class RlimitPlan(BaseModel):
    """The resource limits set (soft = hard) on the hardened process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address_space_bytes: Annotated[int, Field(gt=0, le=MAX_ADDRESS_SPACE_BYTES)] = (
        DEFAULT_ADDRESS_SPACE_BYTES
    )
    cpu_seconds: Annotated[int, Field(gt=0, le=MAX_CPU_SECONDS)] = DEFAULT_CPU_SECONDS
    open_files: Annotated[int, Field(ge=8, le=MAX_OPEN_FILES)] = DEFAULT_OPEN_FILES
    processes: Annotated[int, Field(gt=0, le=MAX_PROCESSES)] = DEFAULT_PROCESSES
    file_size_bytes: Annotated[int, Field(gt=0, le=MAX_FILE_SIZE_BYTES)] = DEFAULT_FILE_SIZE_BYTES
    core_bytes: Annotated[int, Field(ge=0, le=0)] = 0  # core dumps would copy run memory to disk


class HardeningPlan(BaseModel):
    """Everything the kernel layers need to lock one child down.

    ``ro_paths`` are readable (files and directories beneath), ``rw_paths`` readable and writable;
    nothing is executable. The runtime's own read paths (:func:`runtime_read_paths`) are added by
    :func:`restrict_filesystem`, so a plan names only the grants. ``keep_fds`` survive the
    descriptor purge besides 0-2. ``require`` lists layers without which the run is refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ro_paths: tuple[Path, ...] = ()
    rw_paths: tuple[Path, ...] = ()
    rlimits: RlimitPlan = RlimitPlan()
    keep_fds: tuple[int, ...] = ()
    require: frozenset[Layer] = frozenset()

    @field_validator("ro_paths", "rw_paths")
    @classmethod
    def _absolute(cls, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        for path in paths:
            if not path.is_absolute():
                raise ValueError(f"grant path {path} must be absolute (resolve it first)")
        return paths

    @field_validator("keep_fds")
    @classmethod
    def _descriptors(cls, fds: tuple[int, ...]) -> tuple[int, ...]:
        for fd in fds:
            if fd < 0:
                raise ValueError(f"descriptor {fd} is negative")
        return fds
