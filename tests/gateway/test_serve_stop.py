"""``airlock serve`` stops cleanly on SIGTERM: exit 0 and no child process left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli.serve import LateNotifier, capability_path
from host.config import load_config
from host.devtools.prosody import prosody_installed
from tests.fixtures.prosody import COMPONENT_SECRET, Prosody
from tests.fixtures.xmpp import WAIT, humans

REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of all its threads, recursively)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except FileNotFoundError:
                continue
            for child in map(int, text.split()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def write_config(tmp_path: Path, prosody: Prosody) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(
        f'[[rule]]\nid = "e"\nskills = ["echo"]\nrequesters = ["{prosody.jid("alice")}"]\n'
        'effect = "allow"\n'
    )
    (tmp_path / "script.toml").write_text("[[exchanges]]\n[[exchanges.turns]]\ntext = 'hi'\n")
    path = tmp_path / "airlock.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {prosody.component_port}
mode = "component"
component_domain = "{prosody.new_component()}"
component_secret = "{COMPONENT_SECRET}"
[llm]
provider = "scripted"
script = "script.toml"
[agent]
allowed_jids = ["{prosody.jid("alice")}"]
[memory]
path = "memory"
[airlock]
policy_dir = "policies"
skills_dir = "{REPO / "skills_wasm"}"
audit_path = "data/audit.jsonl"
confirm_path = "data/confirmations.sqlite"
"""
    )
    return path


@pytest.mark.xmpp
@pytest.mark.skipif(not prosody_installed(), reason="prosody is not installed")
def test_serve_stops_on_sigterm_leaving_no_child_process(prosody: Prosody, tmp_path: Path) -> None:
    if not (REPO / "skills_wasm" / "echo" / "build").exists():
        pytest.skip("the shipped echo skill is not built here")
    config = write_config(tmp_path, prosody)
    domain = config.read_text().split('component_domain = "')[1].split('"')[0]
    err = tmp_path / "serve.err"
    with err.open("wb") as sink:
        serve = subprocess.Popen(
            [sys.executable, "-m", "host.cli.main", "serve", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:

        async def answered() -> str:
            async with humans(prosody, "alice") as [alice]:
                while True:  # until serve is connected: earlier pings bounce or go unanswered
                    alice.send_message(mto=domain, mbody="/ping", mtype="chat")
                    try:
                        msg = await asyncio.wait_for(alice.inbox.get(), 1.0)
                    except TimeoutError:
                        continue
                    if msg["type"] != "error":
                        return str(msg["body"])

        assert asyncio.run(asyncio.wait_for(answered(), 4 * WAIT)) == "pong", err.read_text()
        children = descendants(serve.pid)
        assert children, "the warm sandbox should have started its zygotes"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=4 * WAIT) == 0, err.read_text()[-2000:]
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    left = {pid for pid in children if Path(f"/proc/{pid}").exists()}
    assert left == set()


def test_leaving_the_capability_path_closes_the_gateway(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(
        '[[rule]]\nid = "e"\nskills = ["echo"]\nrequesters = ["*"]\neffect = "allow"\n'
    )
    (tmp_path / "script.toml").write_text("[[exchanges]]\n[[exchanges.turns]]\ntext = 'hi'\n")
    path = tmp_path / "airlock.toml"
    path.write_text(
        '[server]\ncomponent_domain = "agent.localhost"\ncomponent_secret = "not-used"\n'
        '[llm]\nprovider = "scripted"\nscript = "script.toml"\n'
        f'[airlock]\npolicy_dir = "policies"\nskills_dir = "{REPO / "skills_wasm"}"\n'
    )
    config = load_config(path, {})

    async def main() -> None:
        with capability_path(config, LateNotifier(), asyncio.get_running_loop()) as cap:
            gateway = cap.gateway
            assert gateway is not None
            done = await gateway.execute(
                "echo", {"text": "hi"}, requester="a@localhost", origin="chat", conversation_id="c"
            )
            assert done.outcome is not None
            assert done.outcome.status == "done"
        after = await gateway.execute(
            "echo", {"text": "hi"}, requester="a@localhost", origin="chat", conversation_id="c"
        )
        # The worker pool is shut: nothing more runs, and it is an incident, not a hang.
        assert (after.outcome, after.incident is not None) == (None, True)

    if not (REPO / "skills_wasm" / "echo" / "build").exists():
        pytest.skip("the shipped echo skill is not built here")
    asyncio.run(main())
