"""Defensive redaction of audit data: secrets must never reach the log.

Callers are expected not to pass secrets at all; this is the second line. Two rules: any string
containing a known secret value has that value replaced, and any string under a key that names
one credential (``password``, ``token``, ``api_key``, ``authorization``...) is replaced whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
# A key that names one credential value ("password", "api_key", "x_auth_token"), not a list of
# names ("secrets": ["SEARCH_API_KEY"] stays readable: auditors need to see which were used).
SECRET_KEY = re.compile(
    r"^(.*[_-])?(password|passwd|passphrase|token|api_?key|secret|private_?key|credentials?"
    r"|authorization|cookie)$",
    re.I,
)
# Values shorter than this would redact ordinary words; real secrets are longer.
MIN_SECRET_LENGTH = 6


class Redactor:
    """Replaces known secret values and credential-named fields in JSON-like data."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        values = {v for v in secret_values if len(v) >= MIN_SECRET_LENGTH}
        # Longest first so a secret containing another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    def redact(self, value: Any, key: str = "") -> Any:
        """A copy of ``value`` with secrets replaced by ``[redacted]``."""
        if key and isinstance(value, str) and SECRET_KEY.match(key):
            return REDACTED
        if isinstance(value, str):
            for secret in self._values:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self.redact(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value
