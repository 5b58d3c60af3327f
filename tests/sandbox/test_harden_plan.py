"""HardeningPlan and RlimitPlan refuse what would silently widen a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sandbox.harden import HardeningPlan, RlimitPlan


def test_plan_defaults_are_finite_and_empty() -> None:
    plan = HardeningPlan()
    assert (plan.ro_paths, plan.rw_paths, plan.keep_fds, plan.require) == ((), (), (), frozenset())
    assert plan.rlimits == RlimitPlan()
    assert plan.rlimits.core_bytes == 0
    assert 0 < plan.rlimits.file_size_bytes <= 64 * 1024 * 1024


def test_plan_refuses_relative_grant() -> None:
    with pytest.raises(ValidationError, match="must be absolute"):
        HardeningPlan(rw_paths=(Path("data"),))


def test_plan_refuses_negative_descriptor() -> None:
    with pytest.raises(ValidationError, match="descriptor -1 is negative"):
        HardeningPlan(keep_fds=(-1,))


def test_plan_refuses_unknown_field_and_layer() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        HardeningPlan.model_validate({"unsafe_skip": True})
    with pytest.raises(ValidationError, match="literal_error"):
        HardeningPlan.model_validate({"require": ["landlock_everything"]})


def test_rlimits_refuse_core_dumps_and_zero_limits() -> None:
    with pytest.raises(ValidationError, match="core_bytes"):
        RlimitPlan(core_bytes=1)
    with pytest.raises(ValidationError, match="file_size_bytes"):
        RlimitPlan(file_size_bytes=0)


def test_plan_is_frozen() -> None:
    plan = HardeningPlan()
    with pytest.raises(ValidationError, match="frozen"):
        plan.keep_fds = (3,)  # type: ignore[misc]
