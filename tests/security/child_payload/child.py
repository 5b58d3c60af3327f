"""The child side: harden (cold, warm, or one layer alone), run one attack, print the verdict.

Also the two helper processes of the parent-death test: the subreaper and the middle parent.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from host.errors import HardeningError
from sandbox import _runcore
from sandbox.engine import make_engine
from sandbox.harden import (
    HardeningPlan,
    harden_base,
    harden_process,
    landlock,
    privileges,
    seccomp,
)
from sandbox.harden._libc import prctl
from sandbox.harden.apply import restrict_filesystem
from sandbox.harden.shapes import PlainRlimits
from sandbox.protocol import Setup
from sandbox.spec import Enforcement, Limits
from sandbox.zygote import configure_core
from tests.security.child_payload import REPO, RUN_TIMEOUT_S, payload_command
from tests.security.child_payload.attacks import ATTACKS, Refused


def _harden(layers: str, plan: HardeningPlan) -> Enforcement:
    """``cold`` and ``warm`` are the real thing: the cold path (:func:`harden_process`) or the
    warm one (:func:`harden_base` and the run filter compiled in a zygote that forks, then the
    native run core's own run layers in the child that then runs the attack, as
    ``sandbox/zygote.py`` does). The others apply one layer alone,
    so a test can show what
    that layer stops by itself when another would have caught the attack first:
    ``landlock`` (no_new_privs, then Landlock fs, net and scopes), ``caps`` (capabilities
    dropped, nothing else) and ``seccomp`` (no_new_privs and the base filter, all capabilities
    kept)."""
    if layers == "cold":
        return harden_process(plan)
    if layers == "warm":
        return _warm(plan)
    if layers == "seccomp":
        privileges.set_no_new_privs()
        return Enforcement(no_new_privs=True, seccomp_denied=seccomp.install_base_filter())
    if layers == "caps":
        privileges.lock_securebits()
        privileges.drop_capabilities()
        return Enforcement(capabilities_dropped=privileges.capabilities_dropped())
    if layers != "landlock":
        raise ValueError(f"unknown layers {layers!r}")
    enforcement = Enforcement(no_new_privs=privileges.set_no_new_privs())
    abi = landlock.abi_version()
    net, scoped = landlock.net_rights(abi), landlock.scopes(abi)
    landlock.Ruleset(handled_net=net, scoped=scoped).restrict_self()
    return restrict_filesystem(plan, enforcement)


def _warm(plan: HardeningPlan) -> Enforcement:
    base = harden_base(plan.model_copy(update={"ro_paths": (), "rw_paths": ()}))
    run_filter = seccomp.compile_run_filter() if base.seccomp else None
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        return native_run_layers(plan, base, run_filter)
    # The zygote ends the way its run child did, so run_attack sees the child's fate.
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(zygote, sig)
    os._exit(os.waitstatus_to_exitcode(status))


def native_run_layers(
    plan: HardeningPlan, base: Enforcement, run_filter: seccomp.Program | None
) -> Enforcement:
    """The run layers exactly as the native run child applies them (its very code, through
    ``_runcore.harden_here``), in this forked child of a process hardened like a zygote.

    The core plans a run's address space and CPU time from the Setup's limits; they are set so
    that it lands on ``plan``'s values.
    """
    memory_mb, timeout_s = 1, 1
    rl = plan.rlimits
    configure_core(
        make_engine(),
        base,
        run_filter,
        run_in=-1,
        run_out=-1,
        ctl_out=-1,
        rlimits=PlainRlimits(
            open_files=rl.open_files, processes=rl.processes, file_size_bytes=rl.file_size_bytes
        ),
        runtime_as=rl.address_space_bytes - 2 * memory_mb * 1024 * 1024,
        cpu_grace_s=rl.cpu_seconds - timeout_s,
    )
    setup = Setup(
        ro_paths=tuple(str(p) for p in plan.ro_paths),
        rw_paths=tuple(str(p) for p in plan.rw_paths),
        limits=Limits(memory_mb=memory_mb, timeout_s=timeout_s),
        require=tuple(sorted(plan.require)),
    )
    ok, body = _runcore.harden_here(setup.model_dump_json().encode())
    said = json.loads(body)
    if not ok:
        raise HardeningError(said["error"])
    return Enforcement.model_validate(said["enforcement"])


def _own_terminal(plan: HardeningPlan, params: dict[str, Any]) -> HardeningPlan:
    """Become a session leader with a fresh pty as controlling terminal (as a child started
    from the user's shell shares theirs); the two ends are kept through the descriptor purge."""
    os.setsid()
    master, tty = os.openpty()
    tiocsctty = 0x540E
    fcntl.ioctl(tty, tiocsctty, 0)
    params.update(tty=tty, master=master)
    return plan.model_copy(update={"keep_fds": (*plan.keep_fds, tty, master)})


def child_main(job: dict[str, Any]) -> dict[str, Any]:
    plan = HardeningPlan.model_validate(job["plan"])
    attack = ATTACKS[job["attack"]]
    if job["attack"] == "tiocsti":
        plan = _own_terminal(plan, job["params"])
    enforcement = _harden(job["layers"], plan)
    try:
        detail = attack(job.get("params", {}))
    except Refused as refused:
        return {
            "ok": False,
            "errno": errno.errorcode.get(refused.err, str(refused.err)),
            "stage": refused.stage,
            "detail": refused.detail,
            "enforcement": enforcement.model_dump(),
        }
    return {"ok": True, "detail": detail, "enforcement": enforcement.model_dump()}


def _subreaper(job: dict[str, Any]) -> dict[str, Any]:
    pr_set_child_subreaper = 36
    prctl(pr_set_child_subreaper, 1)
    middle = subprocess.Popen(payload_command(job, "--middle"), cwd=REPO, stdout=subprocess.PIPE)
    assert middle.stdout is not None
    child = json.loads(middle.stdout.readline())["ready"]
    middle.kill()
    middle.wait()
    # The orphan is ours now; a missing parent-death signal would leave it paused for ever,
    # so bound the wait and kill it ourselves (then it reports SIGTERM, not SIGKILL).
    deadline = RUN_TIMEOUT_S / 4
    waited = 0.0
    while True:
        try:
            pid, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pid = 0  # warm path: not reparented to us until its zygote has died too
        if pid:
            break
        if waited > deadline:
            os.kill(child, signal.SIGTERM)
            time.sleep(0.5)
            _, status = os.waitpid(child, 0)
            break
        time.sleep(0.05)
        waited += 0.05
    if os.WIFSIGNALED(status):
        return {"child_signal": signal.Signals(os.WTERMSIG(status)).name}
    return {"child_exit": os.WEXITSTATUS(status)}


def _middle(job: dict[str, Any]) -> None:
    subprocess.Popen(payload_command(job), cwd=REPO)  # shares our stdout: its "ready" line goes up
    signal.pause()


def main(argv: list[str]) -> None:
    """``python -m tests.security.child_payload [--subreaper|--middle] JOB``."""
    if argv[0] == "--subreaper":
        print(json.dumps(_subreaper(json.loads(argv[1]))), flush=True)
        sys.exit(0)
    if argv[0] == "--middle":
        _middle(json.loads(argv[1]))
    verdict = child_main(json.loads(argv[0]))
    print(json.dumps(verdict, default=str), flush=True)
    os._exit(0)  # no atexit handlers: they might touch files the sandbox now refuses
