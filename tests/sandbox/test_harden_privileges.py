"""Parent-death signal, no_new_privs, securebits and capabilities, each read back."""

from __future__ import annotations

import os

import pytest

from sandbox.harden import privileges
from tests.security.child_payload import run_snippet

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hold capabilities")


def test_each_privilege_step_is_read_back() -> None:
    result = run_snippet("""
from sandbox.harden import privileges
privileges.set_parent_death_signal()
result = dict(
    pdeathsig=privileges.parent_death_signal(),
    dumpable=privileges.set_not_dumpable(),
    nnp=privileges.set_no_new_privs(),
    nnp_again=privileges.no_new_privs(),
)
""")
    assert result == {"pdeathsig": 9, "dumpable": True, "nnp": True, "nnp_again": True}


@as_root
def test_capabilities_are_emptied_after_securebits_are_locked() -> None:
    result = run_snippet("""
from sandbox.harden import privileges
before = privileges.capability_sets()
locked = privileges.lock_securebits()
notes = privileges.drop_capabilities()
bits = privileges.prctl(privileges.PR_GET_SECUREBITS)
result = dict(before=before["effective"] > 0, locked=locked, notes=notes,
              after=privileges.capability_sets(), dropped=privileges.capabilities_dropped(),
              bits=bits & privileges.SECUREBITS == privileges.SECUREBITS)
""")
    assert result == {
        "before": True,
        "locked": True,
        "notes": [],
        "after": {"effective": 0, "permitted": 0, "inheritable": 0, "bounding": 0, "ambient": 0},
        "dropped": True,
        "bits": True,
    }


@as_root
def test_securebits_cannot_be_unlocked_after_the_drop() -> None:
    result = run_snippet("""
from sandbox.harden import privileges
privileges.lock_securebits()
privileges.drop_capabilities()
try:
    privileges.prctl(privileges.PR_SET_SECUREBITS, 0)
    result = "unlocked"
except OSError as exc:
    result = exc.errno
""")
    assert result == 1  # EPERM


def test_parent_death_signal_with_a_dead_expected_parent_kills_at_once() -> None:
    # A forked child whose parent is already gone would never get the signal: it dies instead.
    result = run_snippet("""
import signal
pid = os.fork()
if pid == 0:
    from sandbox.harden import privileges
    privileges.set_parent_death_signal(expected_parent=os.getppid() + 1_000_000)
    os._exit(0)
_, status = os.waitpid(pid, 0)
result = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
""")
    assert result == 9


def test_last_capability_is_known() -> None:
    assert privileges.last_capability() >= 37  # CAP_AUDIT_READ, Linux 3.16
