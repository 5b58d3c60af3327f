"""Policy decisions and audit appends: how fast, against what floor.

Policy: sets of 10, 1,000 and 10,000 rules (about four rules per skill, a few glob rules,
half of them with a path constraint), written as real policy files and loaded by the real
loader. A decision is ``PolicyEngine.decide`` on a validated request (rate limits on); we report
load time, decisions per second (one thread) and the p50/p99 latency of one decision.

Audit: records of about 300 bytes appended with ``fsync`` before returning, one thread one by
one, then 8 threads with group commit (shared fsyncs) and 8 threads without it; beside the
floor: a bare ``os.write`` + ``fsync`` of a line of the same size. Run on the disk you will log
to (``--dir``).

Usage: ``python bench/policy.py [--dir DIR] [--json]``. About a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from host.audit.log import AuditLog  # noqa: E402
from host.policy.engine import PolicyEngine  # noqa: E402
from host.policy.loader import load_policy_dir  # noqa: E402
from host.request import CapabilityRequest, build_request  # noqa: E402
from host.skills.manifest import Manifest  # noqa: E402

RULES_PER_FILE = 2000  # keeps each file under the loader's 1 MiB cap
SAMPLED_SKILLS = 50  # requests go to this many skills (manifests are built for those only)


def rule_text(i: int) -> str:
    skill = f"s{i // 4}.run"
    kind = i % 4
    head = f'[[rule]]\nid = "r{i}"\nskills = ["{skill}"]\n'
    rate = "[rule.rate]\nper_minute = 60000\nburst = 100000\n"
    if kind == 0:
        return (
            head
            + 'requesters = ["domain:example.org"]\neffect = "allow"\n'
            + rate
            + (
                '[rule.args.path]\nwithin = "workspace"\n'
                '[rule.grant.dirs.workspace]\npath = "/srv/airlock/ws"\n'
            )
        )
    if kind == 1:
        return head + (
            'requesters = ["*"]\neffect = "deny"\nreason = "no keys"\n'
            '[rule.args.path]\nwithin = "workspace"\nglob = ["**/*.key"]\n'
        )
    if kind == 2:
        return head + (
            f'requesters = ["boss{i}@example.org"]\neffect = "confirm"\n{rate}'
            '[rule.confirm]\napprovers = ["requester"]\n'
        )
    return head + f'requesters = ["user{i}@example.net"]\neffect = "allow"\n{rate}'


def write_policy(directory: Path, count: int) -> None:
    texts = [rule_text(i) for i in range(count)]
    texts += [
        f'[[rule]]\nid = "glob{g}"\nskills = ["s{g}*"]\nrequesters = ["room:r{g}@muc.example.org"]'
        f'\neffect = "allow"\n'
        for g in range(5)
    ]
    for start in range(0, len(texts), RULES_PER_FILE):
        chunk = texts[start : start + RULES_PER_FILE]
        (directory / f"p{start // RULES_PER_FILE:03d}.toml").write_text("\n".join(chunk))


def manifests_for(count: int) -> dict[str, Manifest]:
    skills = (count + 3) // 4
    names = [f"s{k}.run" for k in range(0, skills, max(1, skills // SAMPLED_SKILLS))]
    return {
        name: Manifest.model_validate(
            {
                "name": name,
                "version": "1.0.0",
                "description": "bench",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                "capabilities": {"dirs": [{"name": "workspace", "guest": "/workspace"}]},
            }
        )
        for name in names
    }


def requests_for(manifests: dict[str, Manifest]) -> list[CapabilityRequest]:
    out = []
    for n, name in enumerate(manifests):
        for who in ("alice@example.org", f"user{n}@example.net", "eve@evil.example"):
            for path in ("docs/a.md", "keys/id.key"):
                out.append(
                    build_request(
                        skill=name,
                        arguments={"path": path},
                        requester=who,
                        origin="chat",
                        conversation_id="c",
                        manifests=manifests,
                    )
                )
    return out


def bench_policy(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_policy(directory, count)
        started = time.perf_counter()
        policy = load_policy_dir(directory)
        load_s = time.perf_counter() - started
    engine = PolicyEngine(policy)
    manifests = manifests_for(count)
    requests = requests_for(manifests)
    pairs = [(r, manifests[r.skill]) for r in requests]
    for r, m in pairs:  # warm the per-skill caches, as a running host would be
        engine.decide(r, m)
    latencies = []
    clock = time.perf_counter_ns
    for _ in range(max(1, 20_000 // len(pairs))):
        for r, m in pairs:
            t0 = clock()
            engine.decide(r, m)
            latencies.append(clock() - t0)
    started = time.perf_counter()
    done = 0
    while time.perf_counter() - started < 1.0:
        for r, m in pairs:
            engine.decide(r, m)
        done += len(pairs)
    rate = done / (time.perf_counter() - started)
    latencies.sort()
    return {
        "rules": len(policy.rules),
        "load_ms": load_s * 1000,
        "decisions_per_s": rate,
        "p50_us": latencies[len(latencies) // 2] / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
    }


DATA = {"skill": "fs.read", "requester": "alice@example.org", "pad": "x" * 120}


def bare_fsync(directory: Path, seconds: float) -> float:
    line = json.dumps({"seq": 0, "data": DATA, "hash": "0" * 64, "prev": "0" * 64}).encode() + b"\n"
    fd = os.open(directory / "bare.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        os.write(fd, line)
        os.fsync(fd)
        done += 1
    os.close(fd)
    return done / (time.perf_counter() - started)


SYNCS: dict[str, list[float]] = {}  # records per fsync, per mode


def audit_rate(directory: Path, name: str, threads: int, group: bool, seconds: float) -> float:
    log = AuditLog(directory / f"{name}.jsonl", group_commit=group)
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def writer(k: int) -> None:
        while time.perf_counter() < stop:
            log.record("run.result", request_id=f"t{k}", data=DATA)
            counts[k] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    log.close()
    SYNCS.setdefault(name, []).append(sum(counts) / max(1, log.syncs))
    return sum(counts) / (time.perf_counter() - started)


def bench_audit(directory: Path, seconds: float, rounds: int = 5) -> dict[str, float]:
    """Records per second per mode: the median of ``rounds`` short runs taken in turn, so that
    a slow spell of a shared disk hits every mode alike."""
    modes: dict[str, Callable[[float], float]] = {
        "bare_fsync_append": lambda t: bare_fsync(directory, t),
        "audit_1_thread": lambda t: audit_rate(directory, "one", 1, True, t),
        "audit_8_threads_group_commit": lambda t: audit_rate(directory, "group", 8, True, t),
        "audit_8_threads_no_group_commit": lambda t: audit_rate(directory, "serial", 8, False, t),
    }
    samples: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, measure in modes.items():
            samples[name].append(measure(seconds / rounds))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to write audit files (default: a temp dir)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per audit mode, in total")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    policy = {str(n): bench_policy(n) for n in (10, 1_000, 10_000)}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        audit = bench_audit(Path(tmp), args.seconds)
    if args.json:
        print(json.dumps({"policy": policy, "audit": audit}, indent=2))
        return 0
    print("policy decisions (one thread, rate limits on)")
    print(f"{'rules':>8} {'load ms':>9} {'decisions/s':>12} {'p50 us':>8} {'p99 us':>8}")
    for row in policy.values():
        print(
            f"{row['rules']:>8.0f} {row['load_ms']:>9.1f} {row['decisions_per_s']:>12,.0f} "
            f"{row['p50_us']:>8.1f} {row['p99_us']:>8.1f}"
        )
    floor = audit["bare_fsync_append"]
    print("\naudit appends (fsync before return)")
    print(f"{'mode':<34} {'records/s':>10} {'vs floor':>9} {'records/fsync':>14}")
    short = {
        "audit_1_thread": "one",
        "audit_8_threads_group_commit": "group",
        "audit_8_threads_no_group_commit": "serial",
    }
    for name, value in audit.items():
        per_sync = statistics.median(SYNCS.get(short.get(name, ""), [1.0]))
        print(f"{name:<34} {value:>10,.0f} {value / floor:>8.2f}x {per_sync:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
