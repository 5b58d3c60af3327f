"""One registry of built skills and one warm sandbox per test module.

Not per session: the sandbox tests count every sandbox process under pytest, and a warm pool
left running past its module would look to them like processes that outlived their runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from host.pipeline import Runner
from host.skills.registry import SkillRegistry
from tests.gateway.world import shared_parts


@pytest.fixture(scope="module")
def parts() -> Iterator[tuple[SkillRegistry, Runner]]:
    with shared_parts() as found:
        yield found
