"""The sandbox's plain vocabulary: limit constants, :class:`Status` and :data:`Layer`.

Standard library only, so that the cold child (``python -m sandbox.child``) can use them without
importing pydantic (about half of its start-up time); :mod:`sandbox.spec` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

# Finite defaults, each with its reason. "Unlimited" is never a default.
DEFAULT_FUEL = 2_000_000_000  # a tight loop burns it in ~7 s here: under the 10 s wall clock
DEFAULT_MEMORY_MB = 128  # linear memory; enough for text-processing skills, small for a bomb
DEFAULT_TIMEOUT_S = 10.0  # wall clock, enforced by epoch deadline and then by SIGKILL
DEFAULT_MAX_OUTPUT_KB = 1024  # stdout and stderr each; a chat reply never needs more
DEFAULT_MAX_HOST_CALLS = 32  # brokered calls per run; a flood is cut off, not served
DEFAULT_MAX_INPUT_KB = 1024  # stdin handed to the module

MAX_FUEL = 100_000_000_000
MAX_MEMORY_MB = 4096
MAX_TIMEOUT_S = 600.0
MAX_OUTPUT_KB = 64 * 1024


class Status(StrEnum):
    """How a run ended. ``ok`` is the only success."""

    OK = "ok"
    EXIT_NONZERO = "exit_nonzero"
    TRAP = "trap"
    OUT_OF_FUEL = "out_of_fuel"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INVALID_MODULE = "invalid_module"
    SANDBOX_ERROR = "sandbox_error"


# Kernel layers a run can demand; if one is missing the run is refused (HardeningError).
Layer = Literal[
    "landlock_fs", "landlock_net", "landlock_scope", "seccomp", "no_new_privs", "caps_dropped"
]
# Every Layer, as a set (for checking a name read off the wire).
LAYERS: frozenset[Layer] = frozenset(get_args(Layer))
