"""Kernel hardening of the sandbox child: the layers under the Wasm runtime.

See docs/sandbox-hardening.md for what each layer stops, the order, and what degrades on older
kernels. Warm path: ``harden_base`` in the zygote, ``harden_run`` in each forked run child; cold
path: ``harden_process``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.harden.apply import (
    RunPreparation,
    harden_base,
    harden_process,
    harden_run,
    prepare_run,
    restrict_filesystem,
)
from sandbox.harden.runtime_paths import runtime_read_paths

if TYPE_CHECKING:
    from sandbox.harden.plan import HardeningPlan, RlimitPlan

__all__ = [
    "HardeningPlan",
    "RlimitPlan",
    "RunPreparation",
    "harden_base",
    "harden_process",
    "harden_run",
    "prepare_run",
    "restrict_filesystem",
    "runtime_read_paths",
]


def __getattr__(name: str) -> object:
    # The pydantic plan models load on first use: the cold child hardens itself with the plain
    # shapes of sandbox.harden.shapes and must not pay for pydantic's import.
    if name in ("HardeningPlan", "RlimitPlan"):
        from sandbox.harden import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
