"""Attacks on what runs: swapped modules, modules that import more than their manifest admits,
forged or untrusted signatures, and modules reaching for files outside their grant."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from host.errors import SkillError
from host.policy.grant import DirGrant, Grant
from host.skills.build import build
from host.skills.registry import SkillRegistry
from host.skills.sign import public_text, sign_module, verify_signature
from sandbox.spec import Status
from tests.skills.wat import caller, opener

ECHO = Path(__file__).resolve().parents[2] / "skills_wasm" / "echo"
MANIFEST = """
name = "{name}"
version = "0.1.0"
description = "An attack test skill."
[parameters]
type = "object"
"""
EPERM = 63  # WASI errno: the path is outside every preopened directory


def wat_skill(root: Path, name: str, wat: str, extra: str = "") -> Path:
    folder = root / name.replace(".", "_")
    folder.mkdir()
    (folder / "skill.toml").write_text(MANIFEST.format(name=name) + extra)
    (folder / "main.wat").write_text(wat)
    return folder


def built_echo(tmp_path: Path) -> Path:
    folder = tmp_path / "echo"
    folder.mkdir()
    for name in ("skill.toml", "main.wat", "examples.toml"):
        (folder / name).write_bytes((ECHO / name).read_bytes())
    build(folder)
    return folder


def test_module_swapped_after_build_is_refused_by_the_registry(tmp_path: Path) -> None:
    folder = built_echo(tmp_path)
    skill = SkillRegistry.load(tmp_path).get("echo")
    skill.module_path.write_bytes(wasmtime.wat2wasm('(module (func (export "_start")))'))
    with pytest.raises(SkillError, match="the module was changed after it was built") as info:
        skill.module_sha256()
    assert info.value.hint == "rebuild with `airlock skill build` if you changed it on purpose"
    assert folder.is_dir()


def test_module_swapped_after_approval_is_refused_by_the_sandbox(tmp_path: Path) -> None:
    supervisor = pytest.importorskip(
        "sandbox.supervisor", reason="sandbox.supervisor not available"
    )
    built_echo(tmp_path)
    skill = SkillRegistry.load(tmp_path).get("echo")
    digest = skill.module_sha256()  # checked when the request was approved
    skill.module_path.write_bytes(wasmtime.wat2wasm('(module (func (export "_start")))'))
    spec = Grant().run_spec(skill.module_path, input=b"{}", expected_sha256=digest)
    result = supervisor.run(spec)
    assert result.status is Status.INVALID_MODULE
    assert result.error is not None
    assert result.error.startswith(f"module digest mismatch: expected sha256 {digest}")


def test_build_refuses_host_calls_without_an_http_capability(tmp_path: Path) -> None:
    folder = wat_skill(tmp_path, "sneaky", caller(b"{}"))
    with pytest.raises(SkillError) as info:
        build(folder)
    assert info.value.message == (
        "sneaky (sneaky.wasm) imports airlock host calls but its manifest declares no http "
        "capability"
    )
    assert not (folder / "build" / "sneaky.lock").exists()


def test_build_refuses_imports_the_sandbox_does_not_provide(tmp_path: Path) -> None:
    wat = """(module (import "env" "system" (func (param i32) (result i32)))
                     (import "wasi_snapshot_preview1" "fd_write"
                       (func (param i32 i32 i32 i32) (result i32)))
                     (memory (export "memory") 1) (func (export "_start")))"""
    folder = wat_skill(tmp_path, "escape", wat)
    with pytest.raises(SkillError) as info:
        build(folder)
    assert info.value.message == (
        "escape (escape.wasm) imports env.system (func), which the sandbox does not provide"
    )


def test_build_refuses_an_imported_memory_or_unknown_airlock_function(tmp_path: Path) -> None:
    wat = """(module (import "airlock" "spawn" (func))
                     (import "wasi_snapshot_preview1" "memory" (memory 1))
                     (func (export "_start")))"""
    extra = '[[capabilities.http]]\nhost = "api.example.org"\n'
    folder = wat_skill(tmp_path, "odd", wat, extra=extra)
    with pytest.raises(
        SkillError,
        match=r"imports airlock.spawn \(func\), "
        r"wasi_snapshot_preview1.memory \(memory\), which the sandbox",
    ):
        build(folder)


def test_build_refuses_a_module_that_is_not_a_command(tmp_path: Path) -> None:
    folder = wat_skill(tmp_path, "lib", '(module (func (export "run")))')
    with pytest.raises(SkillError, match=r"exports no _start: it must be a WASI command module"):
        build(folder)


def test_signature_by_an_untrusted_key_is_refused() -> None:
    module = wasmtime.wat2wasm('(module (func (export "_start")))')
    signer, trusted = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sig = sign_module(module, signer)
    with pytest.raises(SkillError, match=f"signed by key {sig.key_id}, which is not trusted"):
        verify_signature(module, sig, [public_text(trusted.public_key())])
    with pytest.raises(SkillError, match="which is not trusted"):
        verify_signature(module, sig, [])  # an empty trust list trusts nobody
    assert verify_signature(module, sig, [public_text(signer.public_key())]) == sig.key_id


def test_signature_for_other_bytes_or_forged_is_refused() -> None:
    module = wasmtime.wat2wasm('(module (func (export "_start")))')
    evil = wasmtime.wat2wasm('(module (func (export "_start") (unreachable)))')
    key = Ed25519PrivateKey.generate()
    trusted = [public_text(key.public_key())]
    sig = sign_module(module, key)
    with pytest.raises(SkillError, match=r"signature is for module [0-9a-f]{16}\.\.\., not this"):
        verify_signature(evil, sig, trusted)
    # Same key id and digest, but the signature bytes are another key's: forged.
    forged = sig.model_copy(
        update={"signature": sign_module(module, Ed25519PrivateKey.generate()).signature}
    )
    with pytest.raises(SkillError, match=f"signature by key {sig.key_id} does not verify"):
        verify_signature(module, forged, trusted)


@pytest.mark.parametrize("path", ["../secrets.toml", "/etc/airlock/secrets.toml", "link"])
def test_module_cannot_open_files_outside_its_grant(tmp_path: Path, path: str) -> None:
    supervisor = pytest.importorskip(
        "sandbox.supervisor", reason="sandbox.supervisor not available"
    )
    secret = "sk-live-0123456789abcdef"
    (tmp_path / "secrets.toml").write_text(f'SEARCH_API_KEY = "{secret}"\n')
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "link").symlink_to(tmp_path / "secrets.toml")
    module = tmp_path / "opener.wasm"
    module.write_bytes(wasmtime.wat2wasm(opener(path)))
    grant = Grant(dirs=(DirGrant(name="workspace", host_path=workspace, guest_path="/workspace"),))
    result = supervisor.run(grant.run_spec(module, input=b"", expected_sha256=None))
    assert result.exit_code == EPERM
    assert secret not in result.stdout
