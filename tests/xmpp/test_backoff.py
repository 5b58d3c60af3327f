from __future__ import annotations

import pytest

from host.xmpp.backoff import Backoff


def test_delays_double_up_to_cap_with_full_jitter() -> None:
    b = Backoff(base=1.0, cap=10.0, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    low = Backoff(base=1.0, cap=10.0, rand=lambda: 0.25)
    assert [low.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]


def test_reset_starts_again() -> None:
    b = Backoff(base=2.0, cap=100.0, rand=lambda: 1.0)
    b.next_delay()
    b.next_delay()
    b.reset()
    assert b.next_delay() == 2.0


def test_huge_attempt_counts_stay_capped() -> None:
    assert Backoff(base=1.0, cap=5.0).ceiling(10_000) == 5.0


def test_invalid_bounds_refused() -> None:
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=0.0)
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=5.0, cap=1.0)
