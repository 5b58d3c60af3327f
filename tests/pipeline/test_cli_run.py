"""`airlock run`: exit codes, terminal confirmation (no --yes), and the audit it leaves."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from host.audit.store import ContentStore
from host.cli.main import main
from host.errors import AirlockError
from host.skills.registry import SkillRegistry
from tests.audit.conftest import verify
from tests.policy.conftest import policy_writer

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / "skills_wasm"


class Terminal(io.StringIO):
    """Typed answers on what claims to be an interactive terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    try:
        registry = SkillRegistry.load(SKILLS)
        for name in ("echo", "fs.delete"):
            registry.get(name).expected_sha256()
    except AirlockError as exc:
        pytest.skip(f"the shipped skills are not built here: {exc}")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "old.txt").write_text("bye")
    policy = policy_writer(tmp_path / "policies")(f"""
        [[rule]]
        id = "echo"
        skills = ["echo"]
        requesters = ["alice@example.org"]
        effect = "allow"

        [[rule]]
        id = "own-deletes"
        skills = ["fs.delete"]
        requesters = ["alice@example.org"]
        effect = "confirm"
        [rule.confirm]
        approvers = ["requester"]
        [rule.grant.dirs.workspace]
        path = "{workspace}"
        access = "rw"

        [[rule]]
        id = "team-deletes"
        skills = ["fs.delete"]
        requesters = ["bob@example.org"]
        effect = "confirm"
        [rule.confirm]
        approvers = ["carol@example.org"]
    """)
    return policy, tmp_path / "audit.jsonl", workspace


def run(setup: tuple[Path, Path, Path], *argv: str) -> int:
    policy, audit, _ = setup
    return main(
        ["run", *argv, "--policy", str(policy), "--audit", str(audit), "--skills", str(SKILLS)]
    )


def events(path: Path) -> list[str]:
    return [json.loads(line)["event"] for line in path.read_text().splitlines()]


def test_run_done_prints_the_answer(
    setup: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(setup, "echo", "--args", '{"text": "hi"}', "--as", "alice@example.org") == 0
    assert json.loads(capsys.readouterr().out) == {"text": "hi"}
    assert verify(setup[1]).ok


def test_run_keeps_outputs_only_in_the_store(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "outputs"
    argv = ["echo", "--args", '{"text": "kept aside"}', "--as", "alice@example.org"]
    assert run(setup, *argv, "--outputs", str(store)) == 0
    result = [json.loads(x) for x in setup[1].read_text().splitlines()][-1]["data"]
    digest = result["stdout"]["sha256"]
    assert result["stdout"]["stored"] is True
    assert "kept aside" not in setup[1].read_text()
    assert json.loads(ContentStore(store).get(digest)) == {"text": "kept aside"}


def test_run_denied_exits_3(
    setup: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(setup, "echo", "--args", '{"text": "hi"}', "--as", "eve@example.org") == 3
    assert "airlock: denied: no policy rule allows skill echo" in capsys.readouterr().err


def test_run_invalid_exits_2(setup: tuple[Path, Path, Path]) -> None:
    assert run(setup, "echo", "--args", '{"text": 1}', "--as", "alice@example.org") == 2
    assert events(setup[1]) == ["policy.loaded", "request.invalid"]


def test_run_confirm_without_a_terminal_is_not_confirmed(
    setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # piped "yes" does not count
    assert (
        run(setup, "fs.delete", "--args", '{"path": "old.txt"}', "--as", "alice@example.org") == 4
    )
    assert (setup[2] / "old.txt").exists()
    assert events(setup[1]) == ["policy.loaded", "request.received", "policy.decision"]


def test_run_confirm_for_other_approvers_must_go_through_xmpp(
    setup: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    assert run(setup, "fs.delete", "--args", '{"path": "old.txt"}', "--as", "bob@example.org") == 4
    assert "needs confirmation by 1 of carol@example.org" in capsys.readouterr().err


def test_run_confirmed_on_the_terminal_deletes(
    setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    assert (
        run(setup, "fs.delete", "--args", '{"path": "old.txt"}', "--as", "alice@example.org") == 0
    )
    assert not (setup[2] / "old.txt").exists()
    assert events(setup[1]) == [
        "policy.loaded",
        "request.received",
        "policy.decision",
        "confirm.asked",
        "confirm.answered",
        "run.started",
        "run.result",
    ]
    assert verify(setup[1]).ok


def test_run_refuses_when_the_audit_cannot_be_written(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, _, _ = setup
    argv = [
        "run",
        "echo",
        "--args",
        '{"text": "hi"}',
        "--as",
        "alice@example.org",
        "--policy",
        str(policy),
        "--audit",
        str(tmp_path / "missing" / "audit.jsonl"),
        "--skills",
        str(SKILLS),
    ]
    assert main(argv) == 1
    assert "airlock: refused: cannot open audit log" in capsys.readouterr().err
