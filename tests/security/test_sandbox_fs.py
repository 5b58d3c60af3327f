"""Attacks on the filesystem boundary of a run: the module sees exactly its preopens.

WASI errno values in the module's output: 63 EPERM (wasmtime refuses a path that leaves the
preopen), 2 EACCES, 44 ENOENT, 8 EBADF. After each attack the secret is intact, nothing was
written outside the grant, the host still runs modules, and no process is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.spec import Preopen, RunResult, RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, stray_processes, write_module

__all__ = ["box"]

SECRET = "TOP-SECRET-host-file-contents"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/secret.txt next to tmp/grant/, the only directory the module is given."""
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "grant").mkdir()
    return tmp_path


@pytest.fixture(autouse=True)
def host_stays_healthy(box: Sandbox, tmp_path: Path) -> Iterator[None]:
    yield
    assert stray_processes() == set(), "a sandbox process outlived its run"
    healthy = box.run(RunSpec(module=write_module(tmp_path, "hello")))
    assert healthy.status is Status.OK


def attack(box: Sandbox, layout: Path, *args: str, access: str = "ro") -> RunResult:
    grant = Preopen(host_path=layout / "grant", guest_path="/data", access=access)  # type: ignore[arg-type]
    return box.run(RunSpec(module=write_module(layout, "fs"), args=args, dirs=(grant,)))


def test_dotdot_cannot_leave_the_preopen(box: Sandbox, layout: Path) -> None:
    result = attack(box, layout, "read", "../secret.txt")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")


def test_absolute_path_cannot_leave_the_preopen(box: Sandbox, layout: Path) -> None:
    result = attack(box, layout, "read", str(layout / "secret.txt"))
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")


def test_system_file_is_unreachable(box: Sandbox, layout: Path) -> None:
    result = attack(box, layout, "read", "/etc/passwd")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")


def test_planted_relative_symlink_is_not_followed_out(box: Sandbox, layout: Path) -> None:
    os.symlink("../secret.txt", layout / "grant" / "link")
    result = attack(box, layout, "read", "link", access="rw")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")


def test_planted_absolute_symlink_is_not_followed_out(box: Sandbox, layout: Path) -> None:
    os.symlink(layout / "secret.txt", layout / "grant" / "link")
    result = attack(box, layout, "read", "link", access="rw")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")


def test_module_cannot_plant_an_escaping_symlink(box: Sandbox, layout: Path) -> None:
    made = attack(box, layout, "symlink", "link", "../secret.txt", access="rw")
    assert (made.status, made.stdout) == (Status.EXIT_NONZERO, "errno 2\n")  # EACCES
    followed = attack(box, layout, "read", "link", access="rw")
    assert (followed.status, followed.stdout) == (Status.EXIT_NONZERO, "errno 44\n")  # ENOENT
    assert os.listdir(layout / "grant") == []


def test_write_outside_a_writable_grant_is_refused(box: Sandbox, layout: Path) -> None:
    result = attack(box, layout, "write", "../planted.txt", access="rw")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")
    assert not (layout / "planted.txt").exists()


def test_read_only_grant_cannot_be_modified(box: Sandbox, layout: Path) -> None:
    (layout / "grant" / "keep.txt").write_text("original")
    result = attack(box, layout, "write", "keep.txt")
    assert (result.status, result.stdout) == (Status.EXIT_NONZERO, "errno 63\n")
    assert (layout / "grant" / "keep.txt").read_text() == "original"
