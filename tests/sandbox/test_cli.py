"""``airlock sandbox run`` and ``airlock sandbox info``: output, exit status, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.cli.main import main
from tests.sandbox.support import MODULES, write_module


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sandbox", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_wat_prints_the_result_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", str(MODULES / "hello.wat"))
    result = json.loads(out)
    assert code == 0
    assert (result["status"], result["exit_code"], result["stdout"]) == ("ok", 0, "hello, world\n")
    assert set(result) >= {"fuel_used", "wall_ms", "peak_memory_bytes", "error", "enforcement"}


def test_args_env_and_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(
        capsys, "run", str(MODULES / "args_env.wat"), "--arg", "x", "--env", "MODE=cli"
    )
    assert code == 0
    assert json.loads(out)["stdout"] == "arg args_env.wasm\narg x\nenv MODE=cli\n"
    (tmp_path / "in.txt").write_text("from a file")
    code, out, _ = run_cli(
        capsys, "run", str(MODULES / "echo.wat"), "--input", str(tmp_path / "in.txt")
    )
    assert json.loads(out)["stdout"] == "from a file"


def test_dir_grant_read_only_by_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("granted")
    code, out, _ = run_cli(
        capsys,
        "run",
        str(MODULES / "fs.wat"),
        "--dir",
        f"{tmp_path}:/data",
        "--arg",
        "read",
        "--arg",
        "note.txt",
    )
    assert (code, json.loads(out)["stdout"]) == (0, "granted")
    code, out, _ = run_cli(
        capsys,
        "run",
        str(MODULES / "fs.wat"),
        "--dir",
        f"{tmp_path}:/data",
        "--arg",
        "write",
        "--arg",
        "new.txt",
    )
    assert (code, json.loads(out)["status"]) == (1, "exit_nonzero")
    assert not (tmp_path / "new.txt").exists()


def test_other_status_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", str(MODULES / "spin.wat"), "--fuel", "100000")
    assert (code, json.loads(out)["status"]) == (1, "out_of_fuel")


def test_binary_module(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "run", str(write_module(tmp_path, "exit")))
    assert (code, json.loads(out)["exit_code"]) == (1, 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.wasm"], "module missing.wasm does not exist"),
        (
            ["run", "{hello}", "--dir", "/nonexistent-dir:/d"],
            "--dir: /nonexistent-dir is not a directory",
        ),
        (["run", "{hello}", "--dir", "relative-guest"], "is not HOST_PATH:GUEST_PATH"),
        (["run", "{hello}", "--env", "NOVALUE"], "--env 'NOVALUE' is not NAME=VALUE"),
        (["run", "{hello}", "--memory-mb", "999999"], "invalid limit"),
        (["run", "{hello}", "--input", "/nonexistent-input"], "--input /nonexistent-input"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.replace("{hello}", str(MODULES / "hello.wat")) for a in argv]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_bad_wat_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.wat"
    bad.write_text("(module (func $oops")
    code, _, err = run_cli(capsys, "run", str(bad))
    assert code == 2
    assert "is not valid WebAssembly text" in err


def test_unknown_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "run", str(MODULES / "hello.wat"), "--unknown"])
    assert exit_info.value.code == 2


def test_help_states_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "run", "--help"])
    out = capsys.readouterr().out
    assert "default 2000000000" in out
    assert "default 128" in out
    assert "default 10.0" in out
    assert "default 1024" in out


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info", "--json")
    support = json.loads(out)
    assert code == 0
    assert isinstance(support["landlock_abi"], int)
    assert "seccomp_filter" in support


def test_info_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info")
    assert code == 0
    assert out.splitlines()[0].startswith("kernel")
