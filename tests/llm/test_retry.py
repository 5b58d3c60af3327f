from __future__ import annotations

import asyncio

import pytest

from host.errors import LlmError
from host.llm.retry import Transient, call_with_retries
from host.xmpp.backoff import Backoff


def run(outcomes: list[object], max_retries: int) -> tuple[object, list[float]]:
    slept: list[float] = []

    async def sleep(d: float) -> None:
        slept.append(d)

    async def attempt() -> object:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    result = asyncio.run(
        call_with_retries(
            attempt,
            provider="test",
            max_retries=max_retries,
            backoff=Backoff(base=1.0, cap=8.0, rand=lambda: 1.0),
            sleep=sleep,
        )
    )
    return result, slept


def test_transient_errors_are_retried_with_backoff() -> None:
    assert run([Transient("429"), Transient("503"), "ok"], 3) == ("ok", [1.0, 2.0])


def test_retry_after_is_honoured_up_to_cap() -> None:
    assert run([Transient("429", retry_after=5.0), "ok"], 1) == ("ok", [5.0])
    assert run([Transient("429", retry_after=500.0), "ok"], 1) == ("ok", [8.0])


def test_retries_are_bounded() -> None:
    with pytest.raises(LlmError) as err:
        run([Transient("HTTP 500")] * 3, 2)
    assert err.value.message == "test failed after 3 attempts: HTTP 500"


def test_non_transient_error_is_not_retried() -> None:
    with pytest.raises(LlmError, match="bad request"):
        run([LlmError("bad request"), "never"], 5)
