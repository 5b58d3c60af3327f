"""The raw Landlock binding: ABI handling, rule shapes, and the filesystem layer on its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.harden import landlock, runtime_read_paths
from tests.security.child_payload import run_snippet

ABI = landlock.abi_version()
pytestmark = [
    pytest.mark.landlock,
    pytest.mark.skipif(ABI < 1, reason="kernel has no Landlock"),
]


def test_rights_follow_the_abi() -> None:
    assert landlock.fs_rights(0) == 0
    assert landlock.fs_rights(1) == (1 << 13) - 1
    assert landlock.fs_rights(2) == (1 << 14) - 1
    assert landlock.fs_rights(4) == (1 << 15) - 1  # ABI 4 added network rules, no fs right
    assert landlock.fs_rights(5) == (1 << 16) - 1
    assert landlock.fs_rights(7) == landlock.fs_rights(5)
    assert (landlock.net_rights(3), landlock.net_rights(4)) == (0, 0b11)
    assert (landlock.scopes(5), landlock.scopes(6)) == (0, 0b11)


def test_read_write_grant_never_executes_or_makes_special_files() -> None:
    for right in (
        landlock.FS_EXECUTE,
        landlock.FS_MAKE_CHAR,
        landlock.FS_MAKE_BLOCK,
        landlock.FS_MAKE_SOCK,
        landlock.FS_MAKE_FIFO,
        landlock.FS_MAKE_SYM,
        landlock.FS_IOCTL_DEV,
    ):
        assert not landlock.FS_READ_WRITE & right
    assert landlock.FS_READ == landlock.FS_READ_FILE | landlock.FS_READ_DIR


def test_file_rule_drops_directory_rights(tmp_path: Path) -> None:
    # A rule on a plain file carrying READ_DIR would be EINVAL: the binding masks it.
    target = tmp_path / "one.txt"
    target.write_text("single file")
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import landlock, privileges
privileges.set_no_new_privs()
rs = landlock.Ruleset(handled_fs=landlock.fs_rights(landlock.abi_version()))
rs.allow_paths([Path({str(target)!r})], landlock.FS_READ)
rs.restrict_self()
result = [open({str(target)!r}).read()]
try:
    open({str(tmp_path / "other.txt")!r}, "w")
except OSError as exc:
    result.append(exc.errno)
""")
    assert result == ["single file", 13]


def test_restrict_filesystem_keeps_the_runtime_working(tmp_path: Path) -> None:
    # After the filesystem layer, lazy imports from the stdlib, site-packages and Airlock's own
    # packages still work, and wasmtime still compiles and runs a module.
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_process
enf = harden_process(HardeningPlan(rw_paths=(Path({str(tmp_path)!r}),)))
import decimal, wasmtime, host.errors
engine = wasmtime.Engine()
module = wasmtime.Module(engine, '(module (func (export "f") (result i32) i32.const 42))')
store = wasmtime.Store(engine)
instance = wasmtime.Instance(store, module, [])
result = [enf.landlock_rules, instance.exports(store)["f"](store), str(decimal.Decimal("1.5"))]
""")
    assert result[1:] == [42, "1.5"]
    assert result[0][0] == "fs"


def test_restrict_filesystem_refuses_missing_grant(tmp_path: Path) -> None:
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, restrict_filesystem
from sandbox.spec import Enforcement
restrict_filesystem(HardeningPlan(ro_paths=(Path({str(tmp_path / "gone")!r}),)), Enforcement())
""")
    assert result["raised"] == "HardeningError"
    assert "does not exist" in result["message"]
    assert str(tmp_path / "gone") in result["message"]


def test_truncate_outside_rw_is_refused(tmp_path: Path) -> None:
    if ABI < 3:
        pytest.skip("Landlock ABI < 3 does not handle truncate")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keep.txt").write_text("content")
    result = run_snippet(f"""
from pathlib import Path
from sandbox.harden import HardeningPlan, harden_process
harden_process(HardeningPlan(ro_paths=(Path({str(ro)!r}),)))
try:
    os.truncate({str(ro / "keep.txt")!r}, 0)
    result = "truncated"
except OSError as exc:
    result = exc.errno
""")
    assert result == 13
    assert (ro / "keep.txt").read_text() == "content"


def test_runtime_read_paths_are_few_and_exclude_the_checkout() -> None:
    paths = runtime_read_paths()
    repo = Path(__file__).resolve().parents[2]
    assert all(p.is_absolute() and p.exists() for p in paths)
    assert not any(a != b and b.is_relative_to(a) for a in paths for b in paths)  # none nested
    assert repo not in paths
    assert not any((repo / "tests").is_relative_to(p) for p in paths)
    assert not any(Path("/etc/shadow").is_relative_to(p) for p in paths)
    assert Path(f"/proc/{os.getpid()}") in paths
    assert len(paths) <= 16
