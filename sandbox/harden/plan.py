"""What the hardening layers are asked to enforce: :class:`HardeningPlan` and :class:`RlimitPlan`.

A plan is built by the trusted supervisor from a run's grant and limits, and consumed by the child
before it reads a single untrusted byte. Both models are frozen and refuse unknown fields, so a
typo in a caller cannot silently widen a sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.spec import Layer

GIB = 1024**3
MIB = 1024**2

# Finite defaults, each with its reason.
# Python + wasmtime map about 0.5 GiB of virtual address space before the module runs; the rest
# leaves room for the default 128 MiB linear memory when wasmtime's reservation is kept small.
DEFAULT_ADDRESS_SPACE_BYTES = 2 * GIB
# A backstop behind the wall-clock kill (10 s by default): twice that in CPU time.
DEFAULT_CPU_SECONDS = 20
# stdin/stdout/stderr, the protocol pipes, the module file and the preopened grants.
DEFAULT_OPEN_FILES = 64
# RLIMIT_NPROC counts every task of the real uid on the machine and is not enforced at all for
# uid 0 (the kernel exempts the init user), so it cannot be the fork bound: the run-time seccomp
# filter is (see sandbox/harden/seccomp.py). This value only has to stay above what the
# deployer's uid already runs, so that it never breaks thread creation.
DEFAULT_PROCESSES = 4096
# Any single file a skill writes in a read-write grant; a chat-sized skill never needs more.
DEFAULT_FILE_SIZE_BYTES = 64 * MIB

MAX_ADDRESS_SPACE_BYTES = 64 * GIB
MAX_CPU_SECONDS = 3600
MAX_OPEN_FILES = 4096
MAX_PROCESSES = 1_000_000
MAX_FILE_SIZE_BYTES = 16 * GIB


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
