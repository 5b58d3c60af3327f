"""`airlock serve` wiring: it fails closed at start, and confirmation answers bypass the model.

Rows T-SRV-01..03 in threat-model/threats/serve.md.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest

from host.cli.main import main
from host.cli.serve import CapabilityPath, LateNotifier, capability_path
from host.config import load_config
from host.demo.story import tell
from host.demo.transcript import Transcript
from host.devtools.prosody import prosody_installed
from host.errors import XmppError

REPO = Path(__file__).resolve().parents[2]
SERVER = """
[server]
component_domain = "agent.localhost"
component_secret = "not-used"
[llm]
provider = "scripted"
script = "script.toml"
"""


def config(tmp_path: Path, airlock: str) -> Path:
    (tmp_path / "script.toml").write_text("[[exchanges]]\n[[exchanges.turns]]\ntext = 'hi'\n")
    path = tmp_path / "airlock.toml"
    path.write_text(SERVER + "[airlock]\n" + airlock)
    return path


def test_serve_refuses_to_start_without_its_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, 'policy_dir = "missing"\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/missing:0: cannot open policy directory: No such file or directory" in err


def test_serve_refuses_to_start_with_an_unwritable_audit_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(
        '[[rule]]\nid = "e"\nskills = ["echo"]\nrequesters = ["*"]\neffect = "allow"\n'
    )
    (tmp_path / "audit-is-a-dir").mkdir()
    cfg = config(
        tmp_path,
        f'skills_dir = "{REPO / "skills_wasm"}"\naudit_path = "audit-is-a-dir"\n',
    )
    assert main(["serve", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read audit log {tmp_path}/audit-is-a-dir: Is a directory" in err


def test_only_actions_false_serves_without_the_capability_path(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, 'actions = false\npolicy_dir = "missing"\n'), {})

    async def run() -> CapabilityPath:
        with capability_path(cfg, LateNotifier(), asyncio.get_running_loop()) as path:
            return path

    # No policy was read (the folder does not exist) and nothing can act or confirm.
    assert asyncio.run(run()) == CapabilityPath(gateway=None, router=None)


def test_a_prompt_before_the_stream_exists_is_refused() -> None:
    async def send() -> None:
        await LateNotifier().send("alice@localhost", "Delete?", Element("c"), Element("x"))

    with pytest.raises(XmppError, match="before the XMPP stream existed"):
        asyncio.run(send())


@pytest.mark.xmpp
@pytest.mark.skipif(not prosody_installed(), reason="prosody is not installed")
def test_confirmation_answer_never_reaches_the_model(tmp_path: Path) -> None:
    """The user's "yes" goes to the confirmation core; the model's history never holds it."""
    facts = asyncio.run(tell(Transcript(io.StringIO()), answer="yes", keep=tmp_path / "run"))
    assert facts.answer_replies[0] == f"Approved {facts.confirm_ref}."
    history = tmp_path / "run" / "world" / "memory" / "alice@localhost" / "history.jsonl"
    said = [json.loads(line) for line in history.read_text().splitlines()]
    assert [m["text"] for m in said if m["role"] == "user"] == [
        "Please list the files in the workspace.",
        "Delete old-draft.txt, please.",
    ]
    assert "confirm.answered" in facts.events


def test_serve_refuses_to_start_when_an_allowed_skill_is_not_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skills = tmp_path / "skills"
    shutil.copytree(
        REPO / "skills_wasm" / "echo", skills / "echo", ignore=shutil.ignore_patterns("build")
    )
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(
        '[[rule]]\nid = "e"\nskills = ["echo"]\nrequesters = ["*"]\neffect = "allow"\n'
    )
    cfg = config(tmp_path, 'skills_dir = "skills"\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "skills the policy allows are not built: echo: " in err
    assert f"(run `airlock skill build {skills}`)" in err
    assert not (tmp_path / "data" / "audit.jsonl").exists()  # stopped before opening anything
