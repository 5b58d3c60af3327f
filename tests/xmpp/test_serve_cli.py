"""``airlock serve`` as a deployer runs it: a real process, a real Prosody, signals."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli.main import main
from host.cli.serve import JsonFormatter
from tests.fixtures.prosody import COMPONENT_SECRET, Prosody
from tests.fixtures.xmpp import humans

REPO = Path(__file__).resolve().parents[2]


def test_serve_config_error_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(
        "[server]\ncomponent_domain = 'a.x'\ncomponent_secret = '${NOPE_SECRET}'\n"
        "[llm]\nprovider = 'ollama'\n"
    )
    env = os.environ.pop("NOPE_SECRET", None)
    assert env is None
    assert main(["serve", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "server.component_secret refers to ${NOPE_SECRET}, which is not set" in err


@pytest.mark.xmpp
def test_serve_answers_then_stops_on_sigterm(prosody: Prosody, tmp_path: Path) -> None:
    domain = prosody.new_component()
    (tmp_path / "script.toml").write_text(
        "[[exchanges]]\n[[exchanges.turns]]\ntext = 'hi {user}'\n"
    )
    cfg = tmp_path / "airlock.toml"
    cfg.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {prosody.component_port}
component_domain = "{domain}"
component_secret = "${{TEST_SECRET}}"
[llm]
provider = "scripted"
script = "script.toml"
[agent]
allowed_jids = ["alice@localhost"]
[memory]
path = "memory"
[airlock]
actions = false
"""
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "host.cli.main", "serve", "--config", str(cfg), "--log-json"],
        cwd=REPO,
        env={**os.environ, "TEST_SECRET": COMPONENT_SECRET},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        async def talk() -> None:
            async with humans(prosody, "alice") as [alice]:
                for _ in range(100):  # the process needs a moment to connect
                    alice.send_message(mto=domain, mbody="/ping", mtype="chat")
                    try:
                        msg = await asyncio.wait_for(alice.inbox.get(), 0.5)
                    except TimeoutError:
                        continue
                    if msg["type"] != "error":  # bounces while the component was not there
                        assert msg["body"] == "pong"
                        break
                else:
                    pytest.fail("airlock serve never answered")
                await alice.barrier(domain)
                while not alice.inbox.empty():  # late answers to earlier pings
                    assert alice.inbox.get_nowait()["body"] in ("pong", "/ping")
                assert await alice.ask(domain, "there") == "hi there"
                assert await alice.ask(domain, "/skills") == "No skills are available to you."

        asyncio.run(talk())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "memory" / "alice@localhost" / "history.jsonl").is_file()


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.LogRecord("host.x", logging.WARNING, __file__, 1, "llm retry", None, None)
    record.provider = "anthropic"
    record.delay = 0.5
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "llm retry"
    assert entry["level"] == "warning"
    assert entry["provider"] == "anthropic"
    assert entry["delay"] == 0.5
    assert "msg" not in entry
