"""Keeping secret values out of everything a module can read.

The broker injects secrets into request headers only. A server can still send a value back
(an echo endpoint, an error page quoting the request), so every reply is scrubbed of each secret
used in the call, in the forms a server is likely to reflect it: verbatim, percent-encoded and
JSON-escaped. Other transformations (base64 at an arbitrary offset, reversal) cannot be caught
in general; that residual risk is in threat-model/threats/skills.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote


class Redactor:
    """Replaces each known secret with ``[redacted:NAME]`` in text and bytes."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        forms: list[tuple[str, str]] = []
        for name, value in secrets.items():
            mark = f"[redacted:{name}]"
            for form in {value, quote(value, safe=""), json.dumps(value)[1:-1]}:
                forms.append((form, mark))
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = sorted(forms, key=lambda f: len(f[0]), reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, value: str) -> str:
        for form, mark in self._forms:
            value = value.replace(form, mark)
        return value

    def data(self, value: bytes) -> bytes:
        for form, mark in self._forms:
            value = value.replace(form.encode("utf-8"), mark.encode("utf-8"))
        return value

    def contains_secret(self, value: bytes) -> bool:
        return any(form.encode("utf-8") in value for form, _ in self._forms)
