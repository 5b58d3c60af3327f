"""Fixtures of the protocol tests (shared with the protocol attack tests)."""

from __future__ import annotations

from tests.protocol.harness import domain, parts

__all__ = ["domain", "parts"]
