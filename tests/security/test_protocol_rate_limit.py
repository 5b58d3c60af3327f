"""A rate limit is told from a denial by the decision's flag, never by wording (T-PRO-08).

A deployer's deny reason that happens to read like a rate limit must stay a denial (``not-
authorized``: "never"), and a spent rate limit must be ``resource-constraint`` ("later"), both
in ``#execute`` errors and in what the model is told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.gateway import ConfirmTrace, Executed
from host.gateway.policy_gateway import model_outcome
from host.protocol.execute import error_for
from tests.gateway.world import ALICE, BOB, Prompts, shared_parts, world
from tests.protocol.harness import Parts

POLICY = f"""
[[rule]]
id = "calc"
skills = ["calc"]
requesters = ["{ALICE}"]
effect = "allow"
[rule.rate]
per_minute = 0.001
burst = 1

[[rule]]
id = "calc-bob"
skills = ["calc"]
requesters = ["{BOB}"]
effect = "deny"
reason = "rate limit of rule calc reached (1 per minute, burst 1); try again in 5 s"
"""


@pytest.fixture(scope="module")
def parts() -> Iterator[Parts]:
    with shared_parts() as found:
        yield found


def test_protocol_rate_limit_is_a_flag_not_a_wording(tmp_path: Path, parts: Parts) -> None:
    async def main() -> None:
        with world(tmp_path, parts, Prompts(), policy=POLICY) as w:

            async def run(who: str) -> Executed:
                return await w.gateway.execute(
                    "calc",
                    {"expression": "1+1"},
                    requester=who,
                    origin="protocol",
                    conversation_id=who,
                    trace=ConfirmTrace(),
                )

            first = await run(ALICE)
            limited = await run(ALICE)
            worded = await run(BOB)
            for done, status, condition, tool in (
                (limited, "rate_limited", ("resource-constraint", "wait"), "rate_limited"),
                (worded, "denied", ("not-authorized", "auth"), "denied"),
            ):
                assert done.outcome is not None
                assert done.outcome.status == status
                error = error_for(done)
                assert (error.condition, error.etype) == condition
                assert "rate limit" not in error.text  # policy text never goes on the wire
                assert model_outcome(done).status == tool
            assert first.outcome is not None
            assert first.outcome.status == "done"
            assert w.events().count("run.started") == 1

    asyncio.run(main())
