"""A module that escaped wasmtime tries the filesystem: only its grants are there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.child_payload import PATHS, REPO, make_grants, run_attack, supported

pytestmark = [
    pytest.mark.landlock,
    pytest.mark.skipif(not supported(1), reason="kernel has no Landlock"),
]


@pytest.fixture(params=PATHS)
def hardening(request: pytest.FixtureRequest) -> str:
    """Each attack runs against the cold path and the warm (zygote) path."""
    return str(request.param)


def test_child_cannot_read_secret_outside_grants(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack("read_file", g.plan(), {"path": str(g.secret)}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")


def test_child_cannot_read_etc_shadow(tmp_path: Path, hardening: str) -> None:
    # uid 0 owns /etc/shadow, so without Landlock the owner bits would let even a capability-less
    # root read it: the refusal here is Landlock's.
    g = make_grants(tmp_path)
    verdict = run_attack("read_file", g.plan(), {"path": "/etc/shadow"}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")


def test_child_cannot_reach_root_through_proc_self_root(tmp_path: Path, hardening: str) -> None:
    # /proc/self is readable (the runtime needs its maps); its "root" link must not reopen "/".
    g = make_grants(tmp_path)
    path = f"/proc/self/root{g.secret}"
    verdict = run_attack("read_file", g.plan(), {"path": path}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")


def test_child_cannot_read_parent_environment(tmp_path: Path, hardening: str) -> None:
    # The supervisor's environment may hold credentials: /proc/<ppid> is outside every rule.
    verdict = run_attack(
        "read_file", make_grants(tmp_path).plan(), {"path": "/proc/PPID/environ"}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")


def test_child_reads_its_ro_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack(
        "read_file", g.plan(), {"path": str(g.ro / "readme.txt")}, layers=hardening
    )
    assert verdict == {**verdict, "ok": True, "detail": "public"}


def test_child_cannot_write_outside_grants(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    target = tmp_path / "planted.txt"
    verdict = run_attack("write_file", g.plan(), {"path": str(target)}, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")
    assert not target.exists()


def test_child_cannot_overwrite_secret(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack("write_file", g.plan(), {"path": str(g.secret)}, layers=hardening)
    assert (verdict["ok"], verdict["errno"]) == (False, "EACCES")
    assert g.secret.read_text() == "sk-do-not-leak"


def test_child_cannot_write_inside_ro_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack(
        "write_file", g.plan(), {"path": str(g.ro / "readme.txt")}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")
    assert (g.ro / "readme.txt").read_text() == "public"


def test_child_writes_inside_rw_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    verdict = run_attack("write_file", g.plan(), {"path": str(g.rw / "out.txt")}, layers=hardening)
    assert (verdict["ok"], verdict["detail"]) == (True, 5)
    assert (g.rw / "out.txt").read_bytes() == b"pwned"


def test_child_cannot_escape_rw_grant_through_planted_symlink(
    tmp_path: Path, hardening: str
) -> None:
    # Someone planted rw/escape -> secret/ before the run: Landlock checks the object reached,
    # not the name used, so following the link still lands outside the grant.
    g = make_grants(tmp_path)
    os.symlink(g.secret_dir, g.rw / "escape")
    read = run_attack(
        "read_file", g.plan(), {"path": str(g.rw / "escape" / "api-key.txt")}, layers=hardening
    )
    write = run_attack(
        "write_file", g.plan(), {"path": str(g.rw / "escape" / "new.txt")}, layers=hardening
    )
    assert (read["ok"], read["errno"], read["stage"]) == (False, "EACCES", "open")
    assert (write["ok"], write["errno"], write["stage"]) == (False, "EACCES", "open")
    assert sorted(p.name for p in g.secret_dir.iterdir()) == ["api-key.txt"]


def test_child_cannot_plant_symlink_in_rw_grant(tmp_path: Path, hardening: str) -> None:
    # A link left behind would mislead whoever reads the grant after the run.
    g = make_grants(tmp_path)
    link = g.rw / "later"
    verdict = run_attack(
        "symlink_make", g.plan(), {"path": str(link), "target": str(g.secret)}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "symlink")
    assert not os.path.lexists(link)


def test_child_cannot_exec_under_landlock_alone(tmp_path: Path) -> None:
    # Behind the seccomp execve rule: no path is executable, /bin/sh is not even readable.
    g = make_grants(tmp_path)
    verdict = run_attack("exec_shell", g.plan(), layers="landlock")
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "execve")


def test_child_cannot_use_leaked_descriptor(tmp_path: Path, hardening: str) -> None:
    # A descriptor opened before Landlock stays usable whatever the rules say, so every
    # descriptor not named in keep_fds is closed first.
    g = make_grants(tmp_path)
    fd = os.open(g.secret, os.O_RDONLY)
    try:
        verdict = run_attack("read_fd", g.plan(), {"fd": fd}, pass_fds=(fd,), layers=hardening)
    finally:
        os.close(fd)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EBADF", "read")


def test_child_cannot_move_secret_into_rw_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    params = {"source": str(g.secret), "target": str(g.rw / "loot.txt")}
    verdict = run_attack("rename_file", g.plan(), params, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "rename")
    assert g.secret.read_text() == "sk-do-not-leak"


def test_child_cannot_move_file_into_ro_grant(tmp_path: Path, hardening: str) -> None:
    g = make_grants(tmp_path)
    (g.rw / "payload.txt").write_text("x")
    params = {"source": str(g.rw / "payload.txt"), "target": str(g.ro / "payload.txt")}
    verdict = run_attack("rename_file", g.plan(), params, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "rename")
    assert sorted(p.name for p in g.ro.iterdir()) == ["readme.txt"]


def test_child_can_move_within_rw_grant_across_directories(tmp_path: Path, hardening: str) -> None:
    # Landlock denies reparenting (REFER) in every layer, even one that handles no filesystem
    # right; the base layer must grant it so that the run layer alone decides. A grant that
    # refuses `mv a.txt sub/` would push skills into copy-then-delete workarounds.
    g = make_grants(tmp_path)
    (g.rw / "sub").mkdir()
    (g.rw / "a.txt").write_text("moved")
    params = {"source": str(g.rw / "a.txt"), "target": str(g.rw / "sub" / "a.txt")}
    verdict = run_attack("rename_file", g.plan(), params, layers=hardening)
    assert (verdict["ok"], verdict.get("errno")) == (True, None)
    assert (g.rw / "sub" / "a.txt").read_text() == "moved"


def test_child_cannot_hard_link_secret_into_rw_grant(tmp_path: Path, hardening: str) -> None:
    # Landlock refuses a link whose source is outside every rule with EXDEV (REFER right).
    g = make_grants(tmp_path)
    params = {"source": str(g.secret), "target": str(g.rw / "loot.txt")}
    verdict = run_attack("hard_link", g.plan(), params, layers=hardening)
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EXDEV", "link")
    assert not (g.rw / "loot.txt").exists()


def test_child_cannot_read_the_checkout_around_the_code(tmp_path: Path, hardening: str) -> None:
    # The runtime may read Airlock's sandbox/ and host/ packages, not the checkout holding them
    # (where a deployment keeps its config, state and keys).
    config = REPO / "pyproject.toml"
    verdict = run_attack(
        "read_file", make_grants(tmp_path).plan(), {"path": str(config)}, layers=hardening
    )
    assert (verdict["ok"], verdict["errno"], verdict["stage"]) == (False, "EACCES", "open")
