"""Warm path: one run's filesystem grant never reaches the next run forked from the same zygote.

Each spare run child prepares its own Landlock ruleset before its run (``prepare_run``); a
ruleset made once in the zygote would be one kernel object shared by every child, and the grant
rules one run added would stay for the next. The children here play escaped modules: native
code trying to write into the previous run's grant.
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


_PREPARED_RUNS = """
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_base, harden_run, prepare_run, seccomp
base = harden_base(HardeningPlan())
run_filter = seccomp.compile_run_filter()
zygote = os.getpid()

def run_child(grant, probe, prepared_ahead):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        prepared = prepare_run(run_filter) if prepared_ahead else None
        plan = HardeningPlan(rw_paths=(Path(grant),))
        enf = harden_run(plan, base, expected_parent=zygote, prepared=prepared)
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
    # Each spare child prepares its own ruleset: the first run's grant must not reach the second
    # run, and the prepared path must report exactly what the unprepared one does.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    result = run_snippet(
        _PREPARED_RUNS
        + f"""
a = run_child({str(first)!r}, {str(first / "a")!r}, True)
b = run_child({str(second)!r}, {str(first / "b")!r}, True)
plain = run_child({str(second)!r}, {str(first / "c")!r}, False)
result = dict(a=a, b=b, plain=plain)
"""
    )
    assert result["a"]["wrote"] == "wrote"
    assert result["b"]["wrote"] == 13  # EACCES: the first run's grant stayed with the first run
    assert result["b"] == result["plain"]
    assert result["a"]["rules"] == ["fs", "net", "scope"]
    assert result["a"]["denied"][-2:] == ["prctl PR_SET_PDEATHSIG", "prctl PR_SET_DUMPABLE"]
    assert not (first / "b").exists()
    assert not (first / "c").exists()
