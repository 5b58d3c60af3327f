"""Shared fixtures. Subsystem fixtures live in the conftest.py of their own test folder.

Hypothesis profiles: ``ci`` is loaded when the environment has ``CI=true`` (as CI services set
it), ``dev`` otherwise; ``HYPOTHESIS_PROFILE`` picks one explicitly. Both are bounded so the
suite's run time stays predictable; a test that needs more or fewer examples sets its own
``@settings``, which takes precedence over the profile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures.prosody"]

REPO = Path(__file__).resolve().parent.parent

# ci: more examples than a developer's run, no per-example deadline (shared CI runners are noisy
# and a deadline miss there is not a bug), and a bounded total so the suite stays within budget.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# dev: Hypothesis's default example count, with no deadline either: this 2-core machine runs
# other work beside the tests and a flaky deadline teaches nothing.
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev")
)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root directory."""
    return REPO
