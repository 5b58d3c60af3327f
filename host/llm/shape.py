"""The error for a provider's answer of the wrong shape, saying what was wrong but not what it said.

A hostile or broken server (or anything between Airlock and it) can answer with any body; the
SDK's ``ValidationError`` and the ``TypeError``/``AttributeError`` of reading an odd object all
become one :class:`LlmError`. Its message names the field and the kind of problem so a deployer
can tell a wrong URL from an outdated SDK, and never carries the body's values: a body can hold
the prompt, injected text, or anything the server chose to send. (The agent answers chat with a
generic apology and an incident id either way; this text goes to the log.)
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from host.errors import LlmError

__all__ = ["unexpected_shape"]

# A key from the body becomes part of a location; only plain field names are shown as they are.
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
# pydantic's and Python's own texts name types and constraints, not values; the cap keeps a
# model validator's text (which might) from growing the log line without bound.
MAX_REASON_CHARS = 120


def unexpected_shape(provider: str, exc: ValidationError | TypeError | AttributeError) -> LlmError:
    """The :class:`LlmError` for ``exc``, raised while reading ``provider``'s answer."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(_part(p) for p in first["loc"]) or "(top level)"
        reason = f"`{where}`: {first['msg']}"
    else:
        reason = str(exc)
    return LlmError(
        f"{provider} returned a response of an unexpected shape: {reason[:MAX_REASON_CHARS]}",
        hint=f"check that [llm] points at a real {provider} server and the client library is "
        "current",
    )


def _part(p: int | str) -> str:
    return str(p) if isinstance(p, int) or _FIELD.match(p) else "?"
