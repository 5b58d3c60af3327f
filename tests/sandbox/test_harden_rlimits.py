"""Resource limits: set soft = hard, reported as enforced, only tightened once privileges go."""

from __future__ import annotations

import os

import pytest

from tests.security.child_payload import run_snippet


def test_rlimits_are_set_hard() -> None:
    result = run_snippet("""
import resource
from sandbox.harden import RlimitPlan
from sandbox.harden.rlimits import apply_rlimits
plan = RlimitPlan(address_space_bytes=3 << 30, cpu_seconds=7, open_files=40,
                  processes=900, file_size_bytes=1 << 20)
limits, notes = apply_rlimits(plan)
result = dict(limits=limits, notes=notes, fsize=resource.getrlimit(resource.RLIMIT_FSIZE))
""")
    assert result == {
        "limits": {
            "as": 3 << 30,
            "cpu": 7,
            "nofile": 40,
            "nproc": 900,
            "fsize": 1 << 20,
            "core": 0,
        },
        "notes": [],
        "fsize": [1 << 20, 1 << 20],
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to raise limits before the drop")
def test_rlimits_only_tighten_after_capabilities_are_dropped() -> None:
    result = run_snippet("""
from sandbox.harden import RlimitPlan, privileges
from sandbox.harden.rlimits import apply_rlimits
apply_rlimits(RlimitPlan(cpu_seconds=5, file_size_bytes=4096))
privileges.drop_capabilities()
limits, notes = apply_rlimits(RlimitPlan(cpu_seconds=9, file_size_bytes=1024))
result = dict(cpu=limits["cpu"], fsize=limits["fsize"], notes=notes)
""")
    assert result == {
        "cpu": 5,
        "fsize": 1024,
        "notes": [
            "rlimit cpu: kept the inherited hard limit 5, not 9 "
            "(limits can only go down once capabilities are dropped)"
        ],
    }
