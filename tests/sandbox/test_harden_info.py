"""`sandbox.info.probe`: what `airlock sandbox info` shows about this machine."""

from __future__ import annotations

import os
import platform

from sandbox.harden import landlock, privileges, seccomp
from sandbox.info import MachineSupport, probe


def test_probe_matches_the_kernel() -> None:
    info = probe()
    abi = landlock.abi_version()
    assert (info.kernel, info.arch, info.landlock_abi) == (
        platform.release(),
        platform.machine(),
        abi,
    )
    expected = [k for k, since in (("fs", 1), ("net", 4), ("scope", 6)) if abi >= since]
    assert list(info.landlock_rules) == expected
    assert info.seccomp_filter is seccomp.available()
    assert (info.uid, info.euid) == (os.getuid(), os.geteuid())


def test_probe_changes_nothing_in_the_calling_process() -> None:
    before = (privileges.no_new_privs(), privileges.capability_sets())
    info = probe()
    assert (privileges.no_new_privs(), privileges.capability_sets()) == before
    assert info.no_new_privs_now is before[0]
    assert info.capabilities_now == before[1]["effective"]
    assert probe() == info


def test_missing_layers_and_lines_name_what_degrades() -> None:
    old = probe().model_copy(update={"landlock_abi": 3, "landlock_rules": ("fs",)})
    assert old.missing_layers() == ["landlock_net", "landlock_scope"]
    lines = old.lines()
    assert lines[1] == "landlock        ABI 3: fs"
    assert lines[-1] == "missing layers  landlock_net, landlock_scope"


def test_machine_support_round_trips_as_json() -> None:
    info = probe()
    assert MachineSupport.model_validate_json(info.model_dump_json()) == info
