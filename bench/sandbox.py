"""Per-invocation cost of running one Wasm module, four ways, on the same module.

- ``inprocess``: wasmtime called in this process, no OS sandbox (the floor): a fresh store,
  WASI context, instance and call per invocation, the module compiled and the linker built once
  (as the warm path's zygote builds them once for all its children).
- ``warm``: :class:`sandbox.supervisor.Sandbox`, a forked, hardened child per run.
- ``cold``: :func:`sandbox.supervisor.run`, a fresh hardened ``python -m sandbox.child``.
- ``bwrap``: what a deployer would otherwise build: Debian's bubblewrap (all namespaces
  unshared, the interpreter, venv and /usr bound read-only, ``--die-with-parent``) starting a
  Python + wasmtime runner per call.

Usage: ``python bench/sandbox.py [--json] [--runs-scale F]``. Prints p50 and p99 per invocation,
the ratio to the in-process p50, and the machine's load average before and after (the figures
grow with it); ``--json`` prints ``{mode: {"p50_ms", "p99_ms"}}`` for the four modes, the same for
``"warm_ready"`` (paced runs, a child ready), and ``"load": [before, after]``.
Iterations are bounded so the whole run takes about a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sandbox import supervisor  # noqa: E402
from sandbox.cache import ModuleCache  # noqa: E402
from sandbox.engine import make_engine  # noqa: E402
from sandbox.protocol import Job  # noqa: E402
from sandbox.runtime import RunLinker, compile_module, execute  # noqa: E402
from sandbox.spec import RunSpec  # noqa: E402

MODULE = REPO / "tests" / "sandbox" / "modules" / "hello.wat"
EXPECTED = "hello, world\n"
# Pause before each run of the paced warm measurement (excluded from its figure).
PACE_S = 0.02
# (warm-up, measured) invocations per mode: enough for a stable p50, bounded for a ~1 min run.
RUNS = {"inprocess": (20, 500), "warm": (10, 300), "cold": (2, 40), "bwrap": (2, 40)}

# The runner a deployer would put inside bubblewrap: compile and run the module, stdout through.
BWRAP_RUNNER = """
import sys, wasmtime
engine = wasmtime.Engine()
module = wasmtime.Module.from_file(engine, sys.argv[1])
wasi = wasmtime.WasiConfig()
wasi.inherit_stdout()
store = wasmtime.Store(engine)
store.set_wasi(wasi)
linker = wasmtime.Linker(engine)
linker.define_wasi()
linker.instantiate(store, module).exports(store)["_start"](store)
"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(name: str, once: Callable[[], str], scale: float, pause_s: float = 0.0) -> list[float]:
    """Per-invocation wall times in ms; ``pause_s``: idle time before each (not measured)."""
    warmup, runs = RUNS[name]
    for _ in range(warmup):
        once()
    samples = []
    for _ in range(max(5, int(runs * scale))):
        if pause_s:
            time.sleep(pause_s)
        start = time.perf_counter()
        out = once()
        samples.append((time.perf_counter() - start) * 1000)
        if out != EXPECTED:
            raise SystemExit(f"{name}: unexpected output {out!r}")
    return samples


def inprocess(wasm: Path) -> Callable[[], str]:
    engine = make_engine()
    job = Job(module=wasm.read_bytes(), module_name=wasm.name)
    module = compile_module(engine, job).module
    linker = RunLinker(engine)  # built once, as the zygote does for its children

    def once() -> str:
        done = execute(engine, module, job, None, stdin_fd_ok=False, linker=linker)
        return done.stdout.decode()

    return once


def bwrap(wasm: Path) -> Callable[[], str] | None:
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    binds = {Path("/usr"), Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), wasm.parent}
    command = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # before the binds
    for path in sorted(binds):
        command += ["--ro-bind", str(path), str(path)]
    for link in ("lib", "lib64", "bin"):
        if Path(f"/{link}").is_symlink():
            command += ["--symlink", f"usr/{link}", f"/{link}"]
    command += [sys.executable, "-c", BWRAP_RUNNER, str(wasm)]

    def once() -> str:
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"bwrap runner failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    return once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs-scale", type=float, default=1.0, help="scale iteration counts")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
        wasm = Path(tmp) / "hello.wasm"
        wasm.write_bytes(wasmtime.wat2wasm(MODULE.read_text()))
        spec = RunSpec(module=wasm)
        cache = ModuleCache(Path(tmp) / "cache")
        results: dict[str, list[float]] = {}
        results["inprocess"] = measure("inprocess", inprocess(wasm), args.runs_scale)
        with supervisor.Sandbox(cache=cache) as box:  # the default pool, as the host uses it
            results["warm"] = measure("warm", lambda: box.run(spec).stdout, args.runs_scale)
            # As the host sees it between chat turns: the zygotes had time to ready a child.
            paced = measure("warm", lambda: box.run(spec).stdout, 0.3, pause_s=PACE_S)
        results["cold"] = measure(
            "cold", lambda: supervisor.run(spec, cache=cache).stdout, args.runs_scale
        )
        runner = bwrap(wasm)
        if runner is not None:
            results["bwrap"] = measure("bwrap", runner, args.runs_scale)

    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    summary: dict[str, object] = {
        mode: {
            "p50_ms": round(statistics.median(samples), 3),
            "p99_ms": round(percentile(samples, 0.99), 3),
        }
        for mode, samples in results.items()
    }
    if args.json:
        ready = {
            "p50_ms": round(statistics.median(paced), 3),
            "p99_ms": round(percentile(paced, 0.99), 3),
        }
        print(json.dumps({**summary, "warm_ready": ready, "load": load}))
        return 0
    rows = {mode: row for mode, row in summary.items() if isinstance(row, dict)}
    floor = rows["inprocess"]["p50_ms"]
    print(f"load average (1 min): {load[0]} before, {load[1]} after")
    print(f"{'mode':<10} {'runs':>5} {'p50 ms':>9} {'p99 ms':>9} {'x floor':>8}")
    for mode, row in rows.items():
        ratio = row["p50_ms"] / floor
        print(
            f"{mode:<10} {len(results[mode]):>5} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f}"
            f" {ratio:>8.1f}"
        )
    paced_p50 = statistics.median(paced)
    print(f"warm with {PACE_S * 1000:.0f} ms between runs (a child ready): p50 {paced_p50:.2f} ms")
    if "bwrap" in rows:
        speedup = rows["bwrap"]["p50_ms"] / rows["warm"]["p50_ms"]
        paced_speedup = rows["bwrap"]["p50_ms"] / paced_p50
        print(
            f"warm is {speedup:.1f}x faster than the bwrap runner back to back,"
            f" {paced_speedup:.1f}x with a child ready (p50)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
