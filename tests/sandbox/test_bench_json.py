"""``bench/sandbox.py --json``: the shape the issue fixes (figures are measured, never asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sandbox.py"


def test_bench_json_has_every_mode_with_p50_and_p99() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--runs-scale", "0.01"],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    report = json.loads(done.stdout)
    modes = ["inprocess", "warm", "cold", "warm_ready"]
    modes += ["bwrap"] if shutil.which("bwrap") else []
    for mode in modes:
        assert set(report[mode]) == {"p50_ms", "p99_ms"}
        assert 0 < report[mode]["p50_ms"] <= report[mode]["p99_ms"]
    assert len(report["load"]) == 2
