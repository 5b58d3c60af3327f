"""Attacks with the module itself: forbidden imports, garbage, truncation, substitution."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.spec import RunSpec, Status
from sandbox.supervisor import Sandbox
from tests.sandbox.support import box, stray_processes, wasm_bytes, write_module

__all__ = ["box"]


@pytest.fixture(autouse=True)
def host_stays_healthy(box: Sandbox, tmp_path: Path) -> Iterator[None]:
    yield
    assert stray_processes() == set(), "a sandbox process outlived its run"
    healthy = box.run(RunSpec(module=write_module(tmp_path, "hello")))
    assert healthy.status is Status.OK


def test_import_of_env_system_is_refused(box: Sandbox, tmp_path: Path) -> None:
    result = box.run(RunSpec(module=write_module(tmp_path, "system")))
    assert result.status is Status.INVALID_MODULE
    assert result.error == (
        "the module imports what Airlock does not provide: "
        "unknown import: `env::system` has not been defined"
    )
    assert result.stdout == ""


def test_garbage_bytes_are_invalid(box: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "garbage.wasm"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)))
    result = box.run(RunSpec(module=path))
    assert result.status is Status.INVALID_MODULE
    assert result.error is not None
    assert result.error == (
        "invalid module: the file does not start with the \\0asm magic bytes"
        " (it is not a WebAssembly binary)"
    )


def test_truncated_module_is_invalid(box: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "truncated.wasm"
    path.write_bytes(wasm_bytes("hello")[:-7])
    result = box.run(RunSpec(module=path))
    assert result.status is Status.INVALID_MODULE
    assert result.error is not None
    assert "unexpected end-of-file" in result.error


def test_digest_mismatch_is_refused_before_any_child(box: Sandbox, tmp_path: Path) -> None:
    approved = hashlib.sha256(wasm_bytes("hello")).hexdigest()
    swapped = write_module(tmp_path, "exit")  # a different module at the approved path
    result = box.run(RunSpec(module=swapped, expected_sha256=approved))
    actual = hashlib.sha256(swapped.read_bytes()).hexdigest()
    assert result.status is Status.INVALID_MODULE
    assert result.error == (
        f"module digest mismatch: expected sha256 {approved}, the file has {actual}"
        " (the module changed since it was approved; rebuild or re-approve it)"
    )
    assert result.stderr == ""  # it never ran
