"""Test-only attack runner: a fresh Python that hardens itself, then tries ONE attack.

Never reachable from the CLI or the host: it exists so that tests/security/test_child_*.py can
play the part of a module that has already escaped wasmtime. :func:`run_attack` starts
``python -m tests.security.child_payload`` with a JSON job on argv; the child applies the real
hardening (the cold path, the warm zygote path, or only one layer to show what it stops on
its own), runs the named attack and prints one JSON line:

``{"ok": true, "detail": ...}`` when the attack worked, or
``{"ok": false, "errno": "EACCES", "stage": "open", "detail": ...}`` when it was refused.

Every attack imports what it needs before hardening: after it, the child can no longer read this
test folder. This module is the test side; :mod:`.attacks` holds the attacks and :mod:`.child`
the child side (hardening, verdict, and the processes of the parent-death test).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.harden import HardeningPlan, RlimitPlan, landlock

REPO = Path(__file__).resolve().parents[3]
RUN_TIMEOUT_S = 60  # far above a normal run (~0.3 s); only a hung child gets near it
FSIZE_CAP = 1024 * 1024  # RLIMIT_FSIZE in attack plans: small, so the flood test writes little
PATHS = ("cold", "warm")  # the two real hardening paths every attack is run through


@dataclass(frozen=True)
class Grants:
    """A plan like the supervisor's: one ro and one rw grant, plus a secret outside both."""

    ro: Path
    rw: Path
    secret_dir: Path
    secret: Path

    def plan(self, **rlimits: int) -> HardeningPlan:
        return HardeningPlan(
            ro_paths=(self.ro,),
            rw_paths=(self.rw,),
            rlimits=RlimitPlan(file_size_bytes=FSIZE_CAP, **rlimits),
        )


def make_grants(tmp_path: Path) -> Grants:
    """Create the ro grant (with a file), the rw grant and a secret file in a third directory."""
    ro, rw, secret_dir = tmp_path / "ro", tmp_path / "rw", tmp_path / "secret"
    for d in (ro, rw, secret_dir):
        d.mkdir()
    (ro / "readme.txt").write_text("public")
    secret = secret_dir / "api-key.txt"
    secret.write_text("sk-do-not-leak")
    return Grants(ro=ro, rw=rw, secret_dir=secret_dir, secret=secret)


def run_attack(
    attack: str,
    plan: HardeningPlan,
    params: dict[str, Any] | None = None,
    *,
    layers: str,
    pass_fds: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Run ``attack`` in a freshly hardened child; returns its JSON verdict.

    ``pass_fds`` are inherited by the child (and not in the plan's ``keep_fds``), like a
    descriptor a careless parent leaked.

    A child killed by a signal yields ``{"ok": False, "signal": "SIGKILL", ...}``.
    """
    job = {"attack": attack, "plan": plan.model_dump(mode="json"), "params": params or {}}
    job["layers"] = layers
    proc = subprocess.run(
        [sys.executable, "-m", "tests.security.child_payload", json.dumps(job)],
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        pass_fds=pass_fds,
    )
    if proc.returncode < 0:
        return {"ok": False, "signal": signal.Signals(-proc.returncode).name}
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"payload failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def payload_command(job: dict[str, Any], *mode: str) -> list[str]:
    return [sys.executable, "-m", "tests.security.child_payload", *mode, json.dumps(job)]


def orphan_verdict(plan: HardeningPlan, *, layers: str) -> dict[str, Any]:
    """Kill a hardened child's parent and report how the child ended.

    Three processes: this helper's child (a subreaper, so the orphan is reparented to it and can
    be reaped), a middle process (the parent to kill), and the hardened child (on the warm path,
    the middle's child is the zygote: its own death signal must cascade to the run child). Returns
    ``{"child_signal": "SIGKILL"}`` when the parent-death signal worked.
    """
    job = {"attack": "sleep_forever", "plan": plan.model_dump(mode="json"), "layers": layers}
    job["params"] = {}
    proc = subprocess.run(
        payload_command(job, "--subreaper"),
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"subreaper failed: {proc.stderr.decode()[-2000:]}")
    verdict: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return verdict


def run_snippet(code: str, *, pass_fds: tuple[int, ...] = ()) -> Any:
    """Run ``code`` in a fresh interpreter and return the JSON value it leaves in ``result``.

    For unit tests of single layers: hardening is irreversible, so it never runs in pytest's own
    process. An exception in the snippet is returned as ``{"raised": type, "message": str}``.
    """
    wrapper = (
        "import json, os, sys\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except Exception as exc:\n"
        "    result = {'raised': type(exc).__name__, 'message': str(exc)}\n"
        "print(json.dumps(result, default=str), flush=True)\n"
        "os._exit(0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=REPO,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        pass_fds=pass_fds,
    )
    if proc.returncode != 0:
        raise AssertionError(f"snippet failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def supported(abi: int) -> bool:
    """Whether this kernel's Landlock ABI is at least ``abi``."""
    return landlock.abi_version() >= abi
