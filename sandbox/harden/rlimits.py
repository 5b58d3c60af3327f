"""Resource limits: soft = hard = the plan's value, so the child cannot raise them again."""

from __future__ import annotations

import resource

from sandbox.harden.shapes import RlimitFields

# Enforcement.rlimits keys, in the order they are applied.
_RESOURCES = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "core": resource.RLIMIT_CORE,
}


def _wanted(plan: RlimitFields) -> dict[str, int]:
    return {
        "as": plan.address_space_bytes,
        "cpu": plan.cpu_seconds,
        "nofile": plan.open_files,
        "nproc": plan.processes,
        "fsize": plan.file_size_bytes,
        "core": plan.core_bytes,
    }


def apply_rlimits(plan: RlimitFields) -> tuple[dict[str, int], list[str]]:
    """Set every limit of ``plan``; returns (limits now in force, notes).

    A limit is never raised above the current hard limit once capabilities are gone (the kernel
    refuses): the lower current value is kept and a note says so. That is how a forked run child
    tightens the zygote's limits to its own run.
    """
    notes: list[str] = []
    for key, value in _wanted(plan).items():
        res = _RESOURCES[key]
        _soft, hard = resource.getrlimit(res)
        target = value
        try:
            resource.setrlimit(res, (target, target))
        except (ValueError, OSError):
            if hard == resource.RLIM_INFINITY or hard >= value:
                raise
            target = hard
            resource.setrlimit(res, (target, target))
            notes.append(
                f"rlimit {key}: kept the inherited hard limit {hard}, not {value} "
                "(limits can only go down once capabilities are dropped)"
            )
    return current_rlimits(), notes


def current_rlimits() -> dict[str, int]:
    """The hard limits in force for the resources Airlock sets (-1 means unlimited)."""
    out = {}
    for key, res in _RESOURCES.items():
        hard = resource.getrlimit(res)[1]
        out[key] = -1 if hard == resource.RLIM_INFINITY else hard
    return out
