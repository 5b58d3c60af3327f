"""The example configurations in docs/examples stay valid."""

from __future__ import annotations

from pathlib import Path

from host.config import load_config
from host.llm.scripted import load_script

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ENV = {"AGENT_SECRET": "s", "ANTHROPIC_API_KEY": "k", "BOT_PASSWORD": "p"}


def test_component_example_loads() -> None:
    cfg = load_config(EXAMPLES / "airlock.component.toml", ENV)
    assert cfg.server.mode == "component"
    assert cfg.rooms[0].allowed == ["example.org"]
    assert cfg.memory.path == EXAMPLES / "data/memory"


def test_client_example_loads() -> None:
    cfg = load_config(EXAMPLES / "airlock.client.toml", ENV)
    assert cfg.server.mode == "client"
    assert cfg.server.tls_verify is True
    assert cfg.server.unsafe_allow_plaintext is False
    assert cfg.llm.provider == "ollama"


def test_demo_example_and_its_script_load() -> None:
    cfg = load_config(EXAMPLES / "airlock.demo.toml", {})
    assert cfg.llm.script is not None
    script = load_script(cfg.llm.script)
    assert [e.when for e in script.exchanges][-1] is None
