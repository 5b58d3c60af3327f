"""One registry of built skills and one warm sandbox for the whole gateway test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from host.pipeline import Runner
from host.skills.registry import SkillRegistry
from tests.gateway.world import shared_parts


@pytest.fixture(scope="session")
def parts() -> Iterator[tuple[SkillRegistry, Runner]]:
    with shared_parts() as found:
        yield found
