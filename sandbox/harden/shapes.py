"""The shapes the hardening layers read and write, as protocols, plus plain implementations.

The layers (:mod:`sandbox.harden.apply`) read a plan (:class:`PlanFields`) and fill an
enforcement record (:class:`EnforcementFields`). The supervisor side and the warm path use the
strict pydantic models (:class:`sandbox.harden.plan.HardeningPlan`,
:class:`sandbox.spec.Enforcement`); the cold child uses the plain dataclasses here, so that it
never imports pydantic (about half its start-up time). Its plan is built from the supervisor's
trusted Setup, whose limits the supervisor validated against the same ceilings.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sandbox.kinds import Layer

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


class RlimitFields(Protocol):
    """What :func:`sandbox.harden.rlimits.apply_rlimits` reads (see ``RlimitPlan``)."""

    @property
    def address_space_bytes(self) -> int: ...
    @property
    def cpu_seconds(self) -> int: ...
    @property
    def open_files(self) -> int: ...
    @property
    def processes(self) -> int: ...
    @property
    def file_size_bytes(self) -> int: ...
    @property
    def core_bytes(self) -> int: ...


class PlanFields(Protocol):
    """What the layers read from a plan (see ``HardeningPlan`` for each field's meaning)."""

    @property
    def ro_paths(self) -> tuple[Path, ...]: ...
    @property
    def rw_paths(self) -> tuple[Path, ...]: ...
    @property
    def rlimits(self) -> RlimitFields: ...
    @property
    def keep_fds(self) -> tuple[int, ...]: ...
    @property
    def require(self) -> Set[Layer]: ...


class EnforcementFields(Protocol):
    """What the layers record (see :class:`sandbox.spec.Enforcement` for each field)."""

    landlock_abi: int | None
    landlock_rules: list[str]
    no_new_privs: bool
    capabilities_dropped: bool
    seccomp: bool
    seccomp_denied: list[str]
    rlimits: dict[str, int]
    notes: list[str]


@dataclass(frozen=True)
class PlainRlimits:
    """:class:`RlimitFields` without pydantic, with the same defaults as ``RlimitPlan``."""

    address_space_bytes: int = DEFAULT_ADDRESS_SPACE_BYTES
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    open_files: int = DEFAULT_OPEN_FILES
    processes: int = DEFAULT_PROCESSES
    file_size_bytes: int = DEFAULT_FILE_SIZE_BYTES
    core_bytes: int = 0  # core dumps would copy run memory to disk


@dataclass(frozen=True)
class PlainPlan:
    """:class:`PlanFields` without pydantic. Grant paths must be absolute, as in the model."""

    ro_paths: tuple[Path, ...] = ()
    rw_paths: tuple[Path, ...] = ()
    rlimits: PlainRlimits = PlainRlimits()
    keep_fds: tuple[int, ...] = ()
    require: frozenset[Layer] = frozenset()

    def __post_init__(self) -> None:
        for path in (*self.ro_paths, *self.rw_paths):
            if not path.is_absolute():
                raise ValueError(f"grant path {path} must be absolute (resolve it first)")


def missing_layers(enforcement: EnforcementFields, require: Set[Layer]) -> list[str]:
    """The layers of ``require`` that ``enforcement`` does not show, sorted."""
    held = {
        "landlock_fs": "fs" in enforcement.landlock_rules,
        "landlock_net": "net" in enforcement.landlock_rules,
        "landlock_scope": "scope" in enforcement.landlock_rules,
        "seccomp": enforcement.seccomp,
        "no_new_privs": enforcement.no_new_privs,
        "caps_dropped": enforcement.capabilities_dropped,
    }
    return sorted(layer for layer in require if not held[layer])


@dataclass
class PlainEnforcement:
    """:class:`EnforcementFields` without pydantic; sent as the Ready frame's ``enforcement``."""

    landlock_abi: int | None = None
    landlock_rules: list[str] = field(default_factory=list)
    no_new_privs: bool = False
    capabilities_dropped: bool = False
    seccomp: bool = False
    seccomp_denied: list[str] = field(default_factory=list)
    rlimits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
