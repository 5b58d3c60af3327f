"""Picking the provider named in ``[llm]``."""

from __future__ import annotations

from host.config import LlmConfig
from host.llm.interface import LlmProvider
from host.llm.scripted import ScriptedProvider, load_script

__all__ = ["make_provider"]


def make_provider(cfg: LlmConfig) -> LlmProvider:
    """The configured provider (its keys were checked when the configuration was loaded)."""
    # The SDKs are imported only for the provider in use: the Anthropic one alone takes seconds
    # to import, which every `airlock` command (they share this module through serve) paid.
    if cfg.provider == "anthropic":
        from host.llm.anthropic import AnthropicProvider

        assert cfg.api_key is not None
        return AnthropicProvider(
            model=cfg.model,
            api_key=cfg.api_key.get_secret_value(),
            base_url=cfg.host,
            timeout=cfg.timeout_secs,
            max_retries=cfg.max_retries,
        )
    if cfg.provider == "ollama":
        from host.llm.ollama import OllamaProvider

        return OllamaProvider(
            model=cfg.model, host=cfg.host, timeout=cfg.timeout_secs, max_retries=cfg.max_retries
        )
    assert cfg.script is not None
    return ScriptedProvider(load_script(cfg.script))
