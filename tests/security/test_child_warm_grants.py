"""Warm path: one run's filesystem grant never reaches the next run forked from the same zygote.

Each run child creates its own Landlock ruleset after the fork (sandbox/native/confine.c); a
ruleset made once in the zygote would be one kernel object shared by every child, and the grant
rules one run added would stay for the next. The children here play escaped modules: native
code trying to write into the previous run's grant, after the native core's own run layers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.info import probe
from tests.security.child_payload import run_snippet

MACHINE = probe()
pytestmark = [
    pytest.mark.landlock,
    pytest.mark.skipif(
        MACHINE.missing_layers() != [], reason=f"missing layers: {MACHINE.missing_layers()}"
    ),
]


_RUNS = """
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_base, seccomp
from tests.security.child_payload.child import native_run_layers
base = harden_base(HardeningPlan())
run_filter = seccomp.compile_run_filter()

def run_child(grant, probe):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        enf = native_run_layers(HardeningPlan(rw_paths=(Path(grant),)), base, run_filter)
        try:
            with open(probe, "w") as handle:
                handle.write("x")
            wrote = "wrote"
        except OSError as exc:
            wrote = exc.errno
        out = dict(rules=enf.landlock_rules, denied=enf.seccomp_denied, wrote=wrote)
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    out = json.loads(os.read(r, 65536))
    os.waitpid(pid, 0)
    return out
"""


def test_child_warm_run_cannot_use_the_previous_runs_grant(tmp_path: Path) -> None:
    # Each run child makes its own ruleset: the first run's grant must not reach the second run.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    result = run_snippet(
        _RUNS
        + f"""
a = run_child({str(first)!r}, {str(first / "a")!r})
b = run_child({str(second)!r}, {str(first / "b")!r})
result = dict(a=a, b=b)
"""
    )
    assert result["a"]["wrote"] == "wrote"
    assert result["b"]["wrote"] == 13  # EACCES: the first run's grant stayed with the first run
    assert result["a"]["rules"] == ["fs", "net", "scope"]
    assert result["a"]["denied"][-2:] == ["prctl PR_SET_PDEATHSIG", "prctl PR_SET_DUMPABLE"]
    assert not (first / "b").exists()
