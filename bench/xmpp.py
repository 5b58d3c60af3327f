"""Throughput and reply latency of the agent through a real Prosody, beside a bare echo bot.

Three responders, each an XEP-0114 component on the same throwaway Prosody:

- ``echo``: a bare slixmpp component that replies with the body (the floor);
- ``agent``: the Airlock agent with the scripted model answering in text (memory on disk,
  access check, rate limiter, slash-command check, prompt assembly, one model call);
- ``agent+tool``: the same, but the model calls one tool through the gateway first.

For each: latency = one client sends, waits for the reply, ``--latency`` times (p50/p99);
throughput = ``--senders`` clients each pipeline ``--burst`` messages, time until every reply is
back. Prints a table with ratios to the floor. Bounded: about a minute with the defaults.

    .venv/bin/python bench/xmpp.py [--latency 1000] [--senders 4] [--burst 250]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from slixmpp import ComponentXMPP  # noqa: E402

from host.config import parse_config  # noqa: E402
from host.xmpp.service import AgentService  # noqa: E402
from tests.fixtures.gateway import echo_gateway  # noqa: E402
from tests.fixtures.prosody import COMPONENT_SECRET, Prosody, run_prosody  # noqa: E402
from tests.fixtures.scripts import scripted  # noqa: E402
from tests.fixtures.xmpp import Human  # noqa: E402

SENDERS = ("alice", "bob", "carol", "human", "mallory", "admin")


class EchoBot(ComponentXMPP):
    """The floor: parse, reply, nothing else."""

    def __init__(self, domain: str, port: int) -> None:
        super().__init__(domain, COMPONENT_SECRET, "127.0.0.1", port)
        self.ready = asyncio.Event()
        self.add_event_handler("session_start", lambda _e: self.ready.set())
        self.add_event_handler("message", self._echo)

    def _echo(self, msg: Any) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply(msg["body"]).send()


def agent_config(prosody: Prosody, root: Path, name: str) -> Any:
    script = root / f"{name}.toml"
    script.write_text("[[exchanges]]\n[[exchanges.turns]]\ntext = 'x'\n")
    return parse_config(
        {
            "server": {
                "host": "127.0.0.1",
                "port": prosody.component_port,
                "component_domain": prosody.new_component(),
                "component_secret": COMPONENT_SECRET,
            },
            "llm": {"provider": "scripted", "script": str(script)},
            "agent": {"allowed_domains": ["localhost"]},
            "memory": {"path": str(root / f"memory-{name}")},
            # The bench measures the path, not the limiter: budgets far above what it sends.
            "limits": {"messages_per_minute": 6000, "burst": 1000},
        },
        {},
    )


async def latency(human: Human, to: str, n: int) -> list[float]:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        await human.ask(to, f"ping {i}")
        samples.append(time.perf_counter() - t0)
    return samples


async def throughput(people: list[Human], to: str, burst: int) -> float:
    async def one(human: Human) -> None:
        for i in range(burst):
            human.send_message(mto=to, mbody=f"burst {i}", mtype="chat")
        for _ in range(burst):
            await human.next_message()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(h) for h in people))
    return len(people) * burst / (time.perf_counter() - t0)


async def measure(
    name: str, people: list[Human], to: str, args: argparse.Namespace
) -> dict[str, float]:
    await latency(people[0], to, 20)  # warm up: connections, caches, first history files
    samples = await latency(people[0], to, args.latency)
    rate = await throughput(people, to, args.burst)
    q = statistics.quantiles(samples, n=100)
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "msg_per_s": rate}


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, run_prosody(Path(tmp) / "prosody") as prosody:
        root = Path(tmp)
        people = [Human(prosody, u) for u in SENDERS[: args.senders]]
        await asyncio.gather(*(p.start() for p in people))
        results: dict[str, dict[str, float]] = {}
        echo = EchoBot(prosody.new_component(), prosody.component_port)
        echo.connect("127.0.0.1", prosody.component_port)
        await asyncio.wait_for(echo.ready.wait(), 15)
        results["echo (floor)"] = await measure("echo", people, echo.boundjid.bare, args)
        await echo.disconnect(wait=1.0)

        plain = scripted({"turns": [{"text": "You said: {user}"}]})
        tool = scripted(
            {
                "turns": [
                    {"tool_calls": [{"name": "upper", "arguments": {"text": "bench"}}]},
                    {"text": "Tool said {tool_result}"},
                ]
            }
        )
        for name, provider in (("agent", plain), ("agent+tool", tool)):
            service = AgentService.from_config(
                agent_config(prosody, root, name.replace("+", "-")),
                gateway=echo_gateway(),
                provider=provider,
            )
            service.start()
            await asyncio.wait_for(service.ready.wait(), 15)
            results[name] = await measure(name, people, service.jid, args)
            await service.stop()
        await asyncio.gather(*(p.stop() for p in people))
    floor = results["echo (floor)"]
    print(f"{'responder':<14} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 x floor':>12}")
    for name, r in results.items():
        ratio = r["p50_ms"] / floor["p50_ms"]
        print(
            f"{name:<14} {r['msg_per_s']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{ratio:>11.2f}x"
        )
    print(
        f"\n{args.latency} sequential round trips per responder for latency; "
        f"{args.senders} senders x {args.burst} pipelined messages for throughput."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=1000, help="round trips per responder")
    parser.add_argument("--senders", type=int, default=4, choices=range(1, len(SENDERS) + 1))
    parser.add_argument("--burst", type=int, default=250, help="messages per sender")
    args = parser.parse_args(argv)
    runner: Callable[[argparse.Namespace], Awaitable[None]] = run
    asyncio.run(runner(args))


if __name__ == "__main__":
    main()
