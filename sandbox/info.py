"""What this machine's kernel offers the sandbox: :func:`probe` and :class:`MachineSupport`.

Read-only: probing changes nothing in the calling process (no filter is loaded, no ruleset is
enforced). ``airlock sandbox info`` prints :meth:`MachineSupport.lines` or the JSON model.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sandbox.harden import landlock, privileges, seccomp

_SECCOMP_MODES = {0: "disabled", 1: "strict", 2: "filter"}


class MachineSupport(BaseModel):
    """The kernel features the hardening layers rely on, as found on this machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kernel: str
    arch: str
    landlock_abi: int  # 0: Landlock missing or disabled (check the lsm= boot parameter)
    landlock_rules: tuple[str, ...]  # the rule kinds the ABI provides: fs, net, scope
    seccomp_filter: bool  # filter mode with the errno action is available
    seccomp_actions: tuple[str, ...]
    seccomp_mode_now: str  # this process's own mode: disabled, strict or filter
    no_new_privs_now: bool
    uid: int
    euid: int
    capabilities_now: int  # effective set of this process, as a bit mask
    last_capability: int
    cgroup: str  # this process's cgroup v2 path, "" when there is none
    cgroup_pids_controller: bool  # pids.max could bound tasks per run
    user_namespaces_max: int | None
    yama_ptrace_scope: int | None

    def missing_layers(self) -> list[str]:
        """Layers :func:`sandbox.harden.harden_process` would have to skip here."""
        missing = [f"landlock_{kind}" for kind in ("fs", "net", "scope")]
        missing = [
            layer for layer in missing if layer.removeprefix("landlock_") not in self.landlock_rules
        ]
        if not self.seccomp_filter:
            missing.append("seccomp")
        return missing

    def lines(self) -> list[str]:
        """A short human report, one fact per line."""
        rules = ", ".join(self.landlock_rules) or "none"
        missing = ", ".join(self.missing_layers()) or "none"
        return [
            f"kernel          {self.kernel} ({self.arch})",
            f"landlock        ABI {self.landlock_abi}: {rules}",
            f"seccomp         {'filter mode' if self.seccomp_filter else 'unavailable'}"
            f" (actions: {' '.join(self.seccomp_actions) or 'none'})",
            f"this process    uid {self.uid}, euid {self.euid}, capabilities "
            f"{self.capabilities_now:#x}, no_new_privs {self.no_new_privs_now}, "
            f"seccomp {self.seccomp_mode_now}",
            f"cgroup          {self.cgroup or 'none'}"
            f" (pids controller: {'yes' if self.cgroup_pids_controller else 'no'})",
            f"user namespaces max {self.user_namespaces_max}, yama ptrace_scope "
            f"{self.yama_ptrace_scope}",
            f"missing layers  {missing}",
        ]


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _status_field(name: str) -> str:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _cgroup() -> tuple[str, bool]:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "", False
    path = next((line[3:] for line in lines if line.startswith("0::")), "")
    if not path:
        return "", False
    try:
        controllers = Path("/sys/fs/cgroup", path.lstrip("/"), "cgroup.controllers").read_text()
    except OSError:
        controllers = ""
    return path, "pids" in controllers.split()


def probe() -> MachineSupport:
    """Probe the running kernel and this process; never raises for a missing feature."""
    abi = landlock.abi_version()
    rules = [
        kind
        for kind, ok in (
            ("fs", abi >= 1),
            ("net", bool(landlock.net_rights(abi))),
            ("scope", bool(landlock.scopes(abi))),
        )
        if ok
    ]
    mode = _read_int_text(_status_field("Seccomp"))
    cgroup, pids = _cgroup()
    return MachineSupport(
        kernel=platform.release(),
        arch=platform.machine(),
        landlock_abi=abi,
        landlock_rules=tuple(rules),
        seccomp_filter=seccomp.available(),
        seccomp_actions=tuple(seccomp.kernel_actions()),
        seccomp_mode_now=_SECCOMP_MODES.get(mode if mode is not None else -1, "unknown"),
        no_new_privs_now=privileges.no_new_privs(),
        uid=os.getuid(),
        euid=os.geteuid(),
        capabilities_now=privileges.capability_sets()["effective"],
        last_capability=privileges.last_capability(),
        cgroup=cgroup,
        cgroup_pids_controller=pids,
        user_namespaces_max=_read_int("/proc/sys/user/max_user_namespaces"),
        yama_ptrace_scope=_read_int("/proc/sys/kernel/yama/ptrace_scope"),
    )


def _read_int_text(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
