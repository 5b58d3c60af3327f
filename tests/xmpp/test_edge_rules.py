from __future__ import annotations

import pytest

from host.xmpp.access import AccessList
from host.xmpp.ratelimit import RateLimiter, Verdict
from host.xmpp.rooms import strip_mention


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_access_is_default_deny() -> None:
    assert not AccessList().allows("alice@example.org")
    assert AccessList().empty


@pytest.mark.parametrize(
    ("jid", "allowed"),
    [
        ("alice@example.org", True),
        ("ALICE@Example.org/phone", True),
        ("bob@corp.example", True),
        ("eve@evil.corp.example", False),  # subdomains are not the domain
        ("corp.example", False),  # a server, not a user
        ("mallory@example.org.evil", False),
        ("", False),
    ],
)
def test_access_matches_bare_jid_or_exact_domain(jid: str, allowed: bool) -> None:
    acl = AccessList(jids=["alice@example.org"], domains=["corp.example"])
    assert acl.allows(jid) is allowed


def test_rate_limiter_burst_then_refill_and_one_notice() -> None:
    clock = Clock()
    rl = RateLimiter(per_minute=6, burst=2, clock=clock)
    assert [rl.check("a") for _ in range(4)] == [
        Verdict(True),
        Verdict(True),
        Verdict(False, notify=True),
        Verdict(False, notify=False),
    ]
    clock.now = 10.0  # 6 per minute: one token every 10 s
    assert rl.check("a") == Verdict(True)
    assert rl.check("a") == Verdict(False, notify=True)  # a new run of drops, a new notice
    assert rl.check("b") == Verdict(True)  # others are not affected


def test_rate_limiter_tracks_a_bounded_number_of_senders() -> None:
    rl = RateLimiter(per_minute=1, burst=1, max_keys=100, clock=Clock())
    for i in range(10_000):
        rl.check(f"spoof{i}@x")
    assert len(rl) == 100


def test_rate_limiter_refuses_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="per_minute > 0"):
        RateLimiter(per_minute=0, burst=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Airlock: hello", "hello"),
        ("airlock, what now?", "what now?"),
        ("  @Airlock: /status", "/status"),
        ("hey @Airlock can you help", "hey can you help"),
        ("@airlock", ""),
        ("Airlockish: no", None),
        ("mail me at bob@Airlock.org", None),
        ("talking about Airlock here", None),
        ("@AirlockBot hi", None),
    ],
)
def test_mentions(text: str, expected: str | None) -> None:
    assert strip_mention(text, "Airlock") == expected
