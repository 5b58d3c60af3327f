from __future__ import annotations

from pathlib import Path

import pytest

from host.config import load_config, parse_config
from host.errors import ConfigError

COMPONENT = """
[server]
host = "localhost"
port = 5275
mode = "component"
component_domain = "agent.localhost"
component_secret = "${AGENT_SECRET}"

[llm]
provider = "anthropic"
model = "claude-sonnet-4-5-20250929"
api_key = "${ANTHROPIC_API_KEY}"
max_tokens_per_request = 4096

[agent]
name = "Fluux Agent"
allowed_jids = ["admin@localhost"]

[memory]
backend = "markdown"
path = "./data/memory"

[session]
idle_timeout_mins = 240

[[rooms]]
jid = "lobby@conference.localhost"
nick = "FluuxBot"
"""
ENV = {"AGENT_SECRET": "s3cret", "ANTHROPIC_API_KEY": "sk-ant-x"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_fluux_agent_config_loads_unchanged(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, COMPONENT), ENV)
    assert cfg.server.component_secret is not None
    assert cfg.server.component_secret.get_secret_value() == "s3cret"
    assert cfg.agent.allowed_jids == ["admin@localhost"]
    assert cfg.rooms[0].nick == "FluuxBot"
    assert cfg.memory.path == tmp_path / "data/memory"
    assert cfg.limits.max_message_bytes == 16_384
    assert "s3cret" not in repr(cfg)


def test_missing_env_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, COMPONENT), {"AGENT_SECRET": "x"})
    assert err.value.message == "llm.api_key refers to ${ANTHROPIC_API_KEY}, which is not set"
    assert err.value.hint is not None
    assert "export ANTHROPIC_API_KEY" in err.value.hint


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, COMPONENT.replace("nick =", "nickname =")), ENV)
    assert "rooms.0.nickname: unknown key" in err.value.message


def test_client_mode_needs_jid_and_password() -> None:
    data = {"server": {"mode": "client", "jid": "bot@localhost"}, "llm": {"provider": "ollama"}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, {})
    assert "server: mode = 'client' needs password" in err.value.message
    cfg = parse_config({**data, "server": {**data["server"], "password": "pw"}}, {})
    assert cfg.server.effective_port == 5222
    assert cfg.server.unsafe_allow_plaintext is False


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("agent", "allowed_jids", ["alice@x/phone"], "is not a bare JID"),
        ("agent", "allowed_domains", ["bad domain"], "is not a domain name"),
        ("limits", "max_message_bytes", 0, "greater than or equal to 64"),
        ("limits", "messages_per_minute", 0, "greater than 0"),
        ("server", "port", 70000, "less than or equal to 65535"),
    ],
)
def test_bad_values_name_key_and_fix(section: str, key: str, value: object, message: str) -> None:
    data: dict[str, dict[str, object]] = {
        "server": {"component_domain": "a.x", "component_secret": "s"},
        "llm": {"provider": "ollama"},
    }
    data.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as err:
        parse_config(data, {})
    assert f"{section}.{key}" in err.value.message
    assert message in err.value.message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write(tmp_path, "[server\n"), {})
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.toml", {})


def test_duplicate_rooms_refused() -> None:
    room = {"jid": "a@conference.x", "nick": "n"}
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config(
            {
                "server": {"component_domain": "a.x", "component_secret": "s"},
                "llm": {"provider": "ollama"},
                "rooms": [room, room],
            },
            {},
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x = " + b"[" * 3000 + b"]" * 3000, "nests arrays or tables too deeply"),
        (b"x = " + b"9" * 5000, "is not valid TOML: Exceeds the limit"),
        (b'x = "\xff"', "is not valid TOML"),
    ],
)
def test_hostile_toml_is_a_config_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=message):
        load_config(path, {})
