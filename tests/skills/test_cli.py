"""``airlock skill``: the author's workflow end to end, through the real CLI entry point."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path

import pytest

from host.cli.main import main
from host.skills.build import RUSTC

ECHO = Path(__file__).resolve().parents[2] / "skills_wasm" / "echo"


def sandbox_available() -> bool:
    return importlib.util.find_spec("sandbox.supervisor") is not None


def test_new_build_test_for_wat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skill", "new", "text.echo", "--lang", "wat", "--dir", str(tmp_path)]) == 0
    folder = tmp_path / "text_echo"
    assert 'name = "text.echo"' in (folder / "skill.toml").read_text()
    assert main(["skill", "build", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "ok    text.echo" in out
    assert (folder / "build" / "text_echo.lock").is_file()
    if not sandbox_available():
        pytest.skip("sandbox.supervisor not available")
    assert main(["skill", "test", str(folder)]) == 0
    assert capsys.readouterr().out.endswith("1 passed, 0 failed\n")


@pytest.mark.toolchain
@pytest.mark.parametrize("lang", ["c", "zig", "rust"])
def test_new_template_builds_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lang: str
) -> None:
    if lang == "rust" and not Path(RUSTC).exists():
        pytest.skip(f"{RUSTC} is missing")
    if not sandbox_available():
        pytest.skip("sandbox.supervisor not available")
    assert main(["skill", "new", "words", "--lang", lang, "--dir", str(tmp_path)]) == 0
    assert main(["skill", "build", str(tmp_path / "words")]) == 0
    assert main(["skill", "test", str(tmp_path / "words")]) == 0
    assert capsys.readouterr().out.endswith("2 passed, 0 failed\n")


def test_new_refuses_bad_names_and_existing_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["skill", "new", "Bad Name", "--lang", "c", "--dir", str(tmp_path)]) == 2
    assert "'Bad Name' is not a skill name" in capsys.readouterr().err
    (tmp_path / "dup").mkdir()
    assert main(["skill", "new", "dup", "--lang", "c", "--dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'dup'} already exists" in capsys.readouterr().err


def test_build_failure_exits_one_and_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["skill", "new", "broken", "--lang", "wat", "--dir", str(tmp_path)])
    (tmp_path / "broken" / "main.wat").write_text("(module (func $f")
    capsys.readouterr()
    assert main(["skill", "build", str(tmp_path / "broken")]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"FAIL  {tmp_path / 'broken'}: {tmp_path / 'broken' / 'main.wat'}: ")


def test_inspect_describes_imports_and_powers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["skill", "new", "peek", "--lang", "wat", "--dir", str(tmp_path)])
    main(["skill", "build", str(tmp_path / "peek")])
    capsys.readouterr()
    assert main(["skill", "inspect", str(tmp_path / "peek" / "build" / "peek.wasm")]) == 0
    out = capsys.readouterr().out
    assert "kind     WASI command (_start)" in out
    assert "memory   min 64 KiB, max 64 KiB" in out
    assert "  wasi_snapshot_preview1.fd_read (func)" in out
    assert "  - nothing beyond stdin, stdout and stderr" in out


def test_inspect_refuses_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"MZ\x90\x00 not wasm")
    assert main(["skill", "inspect", str(junk)]) == 2
    assert "not a valid Wasm module" in capsys.readouterr().err


def test_list_shows_build_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["skill", "new", "aaa", "--lang", "wat", "--dir", str(tmp_path)])
    main(["skill", "new", "bbb", "--lang", "wat", "--dir", str(tmp_path)])
    main(["skill", "build", str(tmp_path / "aaa")])
    capsys.readouterr()
    assert main(["skill", "list", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["aaa", "0.1.0", "built", "safe", "-"]
    assert lines[1].split() == ["bbb", "0.1.0", "not", "built", "safe", "-"]


def test_keygen_sign_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["skill", "new", "signed", "--lang", "wat", "--dir", str(tmp_path)])
    folder = tmp_path / "signed"
    main(["skill", "build", str(folder)])
    key, other = tmp_path / "author.key", tmp_path / "other.key"
    assert main(["skill", "keygen", str(key)]) == 0
    assert main(["skill", "keygen", str(other)]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert Path(f"{key}.pub").read_text().startswith("airlock-ed25519 ")
    assert main(["skill", "keygen", str(key)]) == 2  # never overwrites a key
    assert main(["skill", "sign", str(folder), "--key", str(key)]) == 0
    assert (folder / "build" / "signed.sig").is_file()
    capsys.readouterr()
    assert main(["skill", "verify", str(folder), "--trust", f"{key}.pub"]) == 0
    assert "signed: signed by trusted key" in capsys.readouterr().out
    assert main(["skill", "verify", str(folder), "--trust", f"{other}.pub"]) == 2
    assert "which is not trusted" in capsys.readouterr().err
