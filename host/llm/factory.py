"""Picking the provider named in ``[llm]``."""

from __future__ import annotations

from host.config import LlmConfig
from host.llm.anthropic import AnthropicProvider
from host.llm.interface import LlmProvider
from host.llm.ollama import OllamaProvider
from host.llm.scripted import ScriptedProvider, load_script

__all__ = ["make_provider"]


def make_provider(cfg: LlmConfig) -> LlmProvider:
    """The configured provider (its keys were checked when the configuration was loaded)."""
    if cfg.provider == "anthropic":
        assert cfg.api_key is not None
        return AnthropicProvider(
            model=cfg.model,
            api_key=cfg.api_key.get_secret_value(),
            base_url=cfg.host,
            timeout=cfg.timeout_secs,
            max_retries=cfg.max_retries,
        )
    if cfg.provider == "ollama":
        return OllamaProvider(
            model=cfg.model, host=cfg.host, timeout=cfg.timeout_secs, max_retries=cfg.max_retries
        )
    assert cfg.script is not None
    return ScriptedProvider(load_script(cfg.script))
