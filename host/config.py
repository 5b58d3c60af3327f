"""The deployer's configuration file (TOML), read once at start into a frozen :class:`Config`.

The keys follow the Fluux Agent (``[server]``, ``[llm]``, ``[agent]``, ``[memory]``,
``[session]``, ``[[rooms]]``) so an existing ``agent.toml`` keeps working; Airlock adds
``allowed_domains``, per-room ``allowed`` lists, ``approvers``, ``[limits]`` and ``[airlock]``
(policy, skills and audit paths). Any string may contain ``${NAME}``: it is replaced by the
environment variable ``NAME`` (a missing variable is an error naming it), so secrets stay out of
the file. Unknown keys are refused: a typo must not silently fall back to a default.

Only :func:`load_config` reads the environment or the disk; everything else receives a
:class:`Config`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from host.errors import ConfigError
from host.tomlfile import parse_toml, read_capped

__all__ = [
    "AgentConfig",
    "AirlockPaths",
    "Config",
    "LimitsConfig",
    "LlmConfig",
    "MemoryConfig",
    "RoomConfig",
    "ServerConfig",
    "SessionConfig",
    "expand_env",
    "load_config",
    "parse_config",
]

ENV_REF = re.compile(r"\$\{([^}]*)\}")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BARE_JID = re.compile(r"^[^@/\s]+@[^@/\s]+$")
DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
MAX_CONFIG_BYTES = 1024 * 1024  # a configuration file is a few KiB; more is a mistake


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """``[server]``: how to reach the XMPP server."""

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    mode: Literal["component", "client"] = "component"
    component_domain: str | None = None
    component_secret: SecretStr | None = None
    jid: str | None = None
    password: SecretStr | None = None
    resource: Annotated[str, Field(min_length=1, max_length=64)] = "airlock"
    tls_verify: bool = True
    # A private CA (or the server's self-signed certificate) to trust, instead of disabling
    # verification with tls_verify = false.
    tls_ca_file: Path | None = None
    # Client mode refuses a server that does not offer STARTTLS unless this is set.
    unsafe_allow_plaintext: bool = False
    # Client mode only authenticates with SCRAM (which proves the server knows the password
    # too) unless this is set; PLAIN then becomes possible, and only over TLS.
    unsafe_allow_weak_sasl: bool = False
    # XEP-0199 keepalive: a dead TCP path is noticed within one interval plus the timeout.
    keepalive_secs: Annotated[float, Field(ge=5, le=3600)] = 60.0
    # Cap of the reconnect backoff; the first retry comes after about a second.
    reconnect_max_delay_secs: Annotated[float, Field(ge=1, le=3600)] = 120.0

    @property
    def effective_port(self) -> int:
        """The configured port, or the usual one for the mode (5275 component, 5222 client)."""
        if self.port is not None:
            return self.port
        return 5275 if self.mode == "component" else 5222

    @model_validator(mode="after")
    def _mode_needs_its_keys(self) -> ServerConfig:
        if self.mode == "component":
            if not self.component_domain:
                raise ValueError("mode = 'component' needs component_domain (e.g. agent.localhost)")
            if self.component_secret is None or not self.component_secret.get_secret_value():
                raise ValueError("mode = 'component' needs component_secret (e.g. ${AGENT_SECRET})")
        else:
            if not self.jid or not BARE_JID.match(self.jid):
                raise ValueError("mode = 'client' needs jid as a bare JID (e.g. bot@localhost)")
            if self.password is None or not self.password.get_secret_value():
                raise ValueError("mode = 'client' needs password (e.g. ${BOT_PASSWORD})")
        return self


class LlmConfig(_Section):
    """``[llm]``: which model plans."""

    provider: Literal["anthropic", "ollama", "scripted"]
    model: Annotated[str, Field(min_length=1)] = "scripted"
    api_key: SecretStr | None = None
    host: str | None = None
    # Per-call output bound; a runaway generation costs at most this much.
    max_tokens_per_request: Annotated[int, Field(ge=1, le=200_000)] = 4096
    # A provider call that takes longer is abandoned (and retried if retries are left).
    timeout_secs: Annotated[float, Field(gt=0, le=600)] = 60.0
    # Retries on 429, 5xx and connection errors, with exponential backoff and jitter.
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    # The scripted provider's file of turns (JSON or TOML).
    script: Path | None = None

    @model_validator(mode="after")
    def _provider_needs_its_keys(self) -> LlmConfig:
        if self.provider == "anthropic" and (
            self.api_key is None or not self.api_key.get_secret_value()
        ):
            raise ValueError("provider = 'anthropic' needs api_key (e.g. ${ANTHROPIC_API_KEY})")
        if self.provider == "scripted" and self.script is None:
            raise ValueError("provider = 'scripted' needs script = 'path/to/turns.toml'")
        return self


def _check_principals(values: list[str]) -> list[str]:
    out = []
    for value in values:
        v = value.strip().lower()
        if not (BARE_JID.match(v) or DOMAIN.match(v)):
            raise ValueError(f"{value!r} is neither a bare JID (user@domain) nor a domain")
        out.append(v)
    return out


class AgentConfig(_Section):
    """``[agent]``: who the agent is and who may talk to it (default: nobody)."""

    name: Annotated[str, Field(min_length=1, max_length=64)] = "Airlock"
    allowed_jids: list[str] = []
    allowed_domains: list[str] = []
    # Bare JIDs that may run slash commands in rooms (besides room owners and admins).
    approvers: list[str] = []

    @field_validator("allowed_jids", "approvers")
    @classmethod
    def _bare_jids(cls, values: list[str]) -> list[str]:
        for v in values:
            if not BARE_JID.match(v.strip()):
                raise ValueError(f"{v!r} is not a bare JID (user@domain, no resource)")
        return [v.strip().lower() for v in values]

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        for v in values:
            if not DOMAIN.match(v.strip()):
                raise ValueError(f"{v!r} is not a domain name (e.g. example.org)")
        return [v.strip().lower() for v in values]


class MemoryConfig(_Section):
    """``[memory]``: where conversations and persona files live."""

    backend: Literal["markdown"] = "markdown"
    path: Path = Path("./data/memory")


class SessionConfig(_Section):
    """``[session]``: idle sessions are archived lazily on the next message (0 disables)."""

    idle_timeout_mins: Annotated[int, Field(ge=0, le=525_600)] = 240


class RoomConfig(_Section):
    """One ``[[rooms]]`` entry: a MUC room to join and who in it may trigger the agent."""

    jid: str
    nick: Annotated[str, Field(min_length=1, max_length=64)] = "Airlock"
    # Bare JIDs or domains allowed to trigger the agent here; empty means the agent's own
    # allowed_jids/allowed_domains. Needs a room that shows real JIDs to the agent.
    allowed: list[str] = []
    # Let any occupant trigger the agent, even an anonymous one. Their messages still only
    # reach skills the room's policy allows.
    unsafe_allow_any_occupant: bool = False

    @field_validator("jid")
    @classmethod
    def _room_jid(cls, v: str) -> str:
        if not BARE_JID.match(v):
            raise ValueError(f"{v!r} is not a room JID (room@conference.example.org)")
        return v.lower()

    @field_validator("allowed")
    @classmethod
    def _allowed(cls, values: list[str]) -> list[str]:
        return _check_principals(values)


class LimitsConfig(_Section):
    """``[limits]``: every bound on what one sender can make the agent do."""

    # Bytes of UTF-8 body; longer messages are refused with a reply saying the limit.
    max_message_bytes: Annotated[int, Field(ge=64, le=1_000_000)] = 16_384
    # Token bucket per sender JID: sustained rate and burst. Beyond it, messages are dropped
    # (with one notice per minute) before any model call is made.
    messages_per_minute: Annotated[float, Field(gt=0, le=6000)] = 20.0
    burst: Annotated[int, Field(ge=1, le=1000)] = 5
    # Model rounds that may call tools for one message; then one last call without tools.
    max_tool_rounds: Annotated[int, Field(ge=0, le=50)] = 6
    # Tool calls honoured in one model turn; more are answered "too many calls".
    max_tool_calls_per_turn: Annotated[int, Field(ge=1, le=50)] = 8
    # Turns of history sent to the model; older ones stay on disk but out of the context.
    history_messages: Annotated[int, Field(ge=2, le=1000)] = 40
    # Characters of one tool result sent back to the model.
    max_tool_result_chars: Annotated[int, Field(ge=256, le=1_000_000)] = 16_000
    # Distinct senders tracked by the rate limiter; the oldest are forgotten past this.
    max_tracked_senders: Annotated[int, Field(ge=100, le=10_000_000)] = 10_000


class AirlockPaths(_Section):
    """``[airlock]``: where the policy, the skills, the audit log and confirmations are.

    ``actions = false`` serves chat only: no policy is read and the agent offers no skills
    (every tool call is refused). Otherwise the policy, skills and audit log must be usable.
    """

    actions: bool = True
    policy_dir: Path = Path("./policies")
    skills_dir: Path = Path("./skills_wasm")
    audit_path: Path = Path("./data/audit.jsonl")
    # Pending confirmations survive a restart here (SQLite; several hosts may share it).
    confirm_path: Path = Path("./data/confirmations.sqlite")


class Config(_Section):
    """The whole validated configuration."""

    server: ServerConfig
    llm: LlmConfig
    agent: AgentConfig = AgentConfig()
    memory: MemoryConfig = MemoryConfig()
    session: SessionConfig = SessionConfig()
    rooms: list[RoomConfig] = []
    limits: LimitsConfig = LimitsConfig()
    airlock: AirlockPaths = AirlockPaths()

    @model_validator(mode="after")
    def _rooms_unique(self) -> Config:
        jids = [r.jid for r in self.rooms]
        dupes = sorted({j for j in jids if jids.count(j) > 1})
        if dupes:
            raise ValueError(f"room {dupes[0]} is listed twice in [[rooms]]")
        return self


def expand_env(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Replace ``${NAME}`` in every string of ``value`` (recursively) from ``env``.

    Raises :class:`ConfigError` naming the key and the variable when one is missing or its name
    is malformed. Only strings are expanded; keys are not.
    """
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if not ENV_NAME.match(name):
                raise ConfigError(
                    f"{where or 'a value'}: ${{{name}}} is not a valid environment variable name",
                    hint="use ${NAME} with letters, digits and underscores",
                )
            if name not in env:
                raise ConfigError(
                    f"{where or 'a value'} refers to ${{{name}}}, which is not set",
                    hint=f"export {name}=... before starting airlock, or write the value inline",
                )
            return env[name]

        return ENV_REF.sub(repl, value)
    if isinstance(value, list):
        return [expand_env(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_env(v, env, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def _describe(error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check its spelling against docs/deployers.md)")
        elif err["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            lines.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def parse_config(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Validate already-parsed TOML ``data``, expanding ``${NAME}`` from ``env``."""
    expanded = expand_env(dict(data), os.environ if env is None else env)
    try:
        return Config.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid configuration: {_describe(exc)}",
            hint="see docs/deployers.md for every key and an example",
        ) from None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate the TOML file at ``path``.

    Relative paths inside the file (memory, policy, skills, audit, script, CA file) are resolved
    against the file's own directory, so the service behaves the same from any working directory.
    """
    source = f"configuration {path}"
    try:
        with path.open("rb") as f:
            raw = read_capped(f, max_bytes=MAX_CONFIG_BYTES, source=source, error=ConfigError)
    except OSError as exc:
        raise ConfigError(
            f"cannot read configuration {path}: {exc.strerror}",
            hint="pass an existing file with --config",
        ) from None
    data = parse_toml(raw, source=source, error=ConfigError)
    config = parse_config(data, env)
    return _resolve_paths(config, path.parent.resolve())


def _resolve_paths(config: Config, base: Path) -> Config:
    def r(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    llm = config.llm
    server = config.server
    return config.model_copy(
        update={
            "memory": config.memory.model_copy(update={"path": r(config.memory.path)}),
            "airlock": config.airlock.model_copy(
                update={
                    "policy_dir": r(config.airlock.policy_dir),
                    "skills_dir": r(config.airlock.skills_dir),
                    "audit_path": r(config.airlock.audit_path),
                    "confirm_path": r(config.airlock.confirm_path),
                }
            ),
            "llm": llm.model_copy(update={"script": r(llm.script) if llm.script else None}),
            "server": server.model_copy(
                update={"tls_ca_file": r(server.tls_ca_file) if server.tls_ca_file else None}
            ),
        }
    )
