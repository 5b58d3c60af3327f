"""Fixtures of the confirmation tests: a fresh store file, a manual clock, an audit sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.confirm import ConfirmationService
from tests.confirm.fakes import ManualClock, MemoryAudit, open_service


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "confirm.sqlite"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def service(db: Path, clock: ManualClock, audit: MemoryAudit) -> Iterator[ConfirmationService]:
    svc = open_service(db, clock, audit)
    yield svc
    svc.store.close()
