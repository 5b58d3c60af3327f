"""The order of the layers, the warm (zygote) path, and what `require` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.harden import seccomp
from sandbox.info import probe
from tests.security.child_payload import run_snippet

MACHINE = probe()
full_kernel = pytest.mark.skipif(
    MACHINE.missing_layers() != [], reason=f"missing layers: {MACHINE.missing_layers()}"
)


def test_hardening_refuses_a_multithreaded_process() -> None:
    result = run_snippet("""
import threading
from sandbox.harden import HardeningPlan, harden_base
stop = threading.Event()
worker = threading.Thread(target=stop.wait)
worker.start()
try:
    harden_base(HardeningPlan())
    result = "hardened"
finally:
    stop.set()
""")
    assert result["raised"] == "HardeningError"
    assert result["message"].startswith("hardening must run before any other thread starts, but 2")


@full_kernel
def test_harden_process_reports_every_layer(tmp_path: Path) -> None:
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_process
result = harden_process(HardeningPlan(rw_paths=(Path({str(tmp_path)!r}),))).model_dump()
""")
    assert result["landlock_abi"] == MACHINE.landlock_abi
    assert result["landlock_rules"] == ["fs", "net", "scope"]
    assert (result["no_new_privs"], result["capabilities_dropped"], result["seccomp"]) == (
        True,
        True,
        True,
    )
    assert result["notes"] == []
    expected = [*seccomp.BASE_DENIED, "clone3 (ENOSYS)", "clone with a namespace flag"]
    expected += [f"{name} on another process" for name, _ in seccomp.OTHER_PROCESS_CALLS]
    expected += [f"ioctl {name}" for name, _ in seccomp.TTY_IOCTLS_DENIED]
    expected += [*seccomp.RUN_DENIED, "clone without CLONE_THREAD"]
    expected += ["prctl PR_SET_PDEATHSIG", "prctl PR_SET_DUMPABLE"]
    assert result["seccomp_denied"] == expected


@full_kernel
def test_zygote_forks_after_base_but_its_run_child_cannot(tmp_path: Path) -> None:
    # The warm path: harden_base in the zygote, fork, harden_run in the child. The zygote keeps
    # fork; the run child gets the filesystem layer and loses fork.
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, RlimitPlan, harden_base, harden_run
base = harden_base(HardeningPlan())
r, w = os.pipe()
zygote = os.getpid()
pid = os.fork()
if pid == 0:
    os.close(r)
    plan = HardeningPlan(rw_paths=(Path({str(tmp_path)!r}),),
                         rlimits=RlimitPlan(file_size_bytes=4096))
    enf = harden_run(plan, base, expected_parent=zygote)
    try:
        os.fork()
        fork = "forked"
    except OSError as exc:
        fork = exc.errno
    out = dict(rules=enf.landlock_rules, fsize=enf.rlimits["fsize"], fork=fork)
    os.write(w, json.dumps(out).encode())
    os._exit(0)
os.close(w)
child = json.loads(os.read(r, 4096))
os.waitpid(pid, 0)
second = os.fork()
if second == 0:
    os._exit(7)
_, status = os.waitpid(second, 0)
zygote_fork = os.waitstatus_to_exitcode(status)
result = dict(child=child, base_rules=base.landlock_rules, zygote_fork=zygote_fork)
""")
    assert result["base_rules"] == ["net", "scope"]
    assert result["child"] == {"rules": ["fs", "net", "scope"], "fsize": 4096, "fork": 1}
    assert result["zygote_fork"] == 7


def test_required_layer_that_cannot_be_enforced_is_refused(tmp_path: Path) -> None:
    # Landlock needs no_new_privs: calling the filesystem layer without it is a layer that
    # cannot be enforced, which is refused when required...
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, restrict_filesystem
from sandbox.spec import Enforcement
plan = HardeningPlan(ro_paths=(Path({str(tmp_path)!r}),), require=frozenset({{"landlock_fs"}}))
restrict_filesystem(plan, Enforcement())
""")
    assert result["raised"] == "HardeningError"
    assert result["message"] == (
        "the run requires the landlock_fs layer, which cannot be enforced: "
        "Landlock needs no_new_privs (call harden_base first: it sets no_new_privs)"
    )


def test_optional_layer_that_cannot_be_enforced_is_noted(tmp_path: Path) -> None:
    # ...and degraded with a note when not required.
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, restrict_filesystem
from sandbox.spec import Enforcement
plan = HardeningPlan(ro_paths=(Path({str(tmp_path)!r}),))
result = restrict_filesystem(plan, Enforcement()).model_dump()
""")
    assert result["landlock_rules"] == []
    assert result["notes"] == ["landlock_fs: Landlock needs no_new_privs"]


@full_kernel
def test_every_layer_can_be_required_here(tmp_path: Path) -> None:
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_process
layers = {{"landlock_fs", "landlock_net", "landlock_scope", "seccomp", "no_new_privs",
          "caps_dropped"}}
plan = HardeningPlan(rw_paths=(Path({str(tmp_path)!r}),), require=frozenset(layers))
enf = harden_process(plan)
result = dict(rules=enf.landlock_rules, notes=enf.notes, seccomp=enf.seccomp)
""")
    assert result == {"rules": ["fs", "net", "scope"], "notes": [], "seccomp": True}


@full_kernel
def test_preparation_made_in_another_process_is_refused(tmp_path: Path) -> None:
    # A ruleset created before the fork would be shared by every child (and its /proc rule
    # would name the zygote), so harden_run refuses it.
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_base, harden_run, prepare_run
base = harden_base(HardeningPlan())
shared = prepare_run()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    try:
        harden_run(HardeningPlan(rw_paths=(Path({str(tmp_path)!r}),)), base, prepared=shared)
        out = "hardened"
    except Exception as exc:
        out = f"{{type(exc).__name__}}: {{exc}}"
    os.write(w, out.encode())
    os._exit(0)
os.close(w)
result = os.read(r, 4096).decode()
os.waitpid(pid, 0)
""")
    assert result == (
        "HardeningError: a run preparation was made in another process"
        " (call prepare_run in the run child itself, after the fork)"
    )
