"""Keeping secret values out of everything a module can read.

The broker injects secrets into request headers only. A server can still send a value back
(an echo endpoint, an error page quoting the request), so every reply is scrubbed of each secret
used in the call, in the forms a server is likely to reflect it: verbatim, percent-encoded and
JSON-escaped, in any letter case. Other transformations (base64 at an arbitrary offset, reversal)
cannot be caught in general; that residual risk is in threat-model/threats/skills.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import quote


class Redactor:
    """Replaces each known secret with ``[redacted:NAME]`` in text and bytes.

    Matching ignores case: URLs and host names get lower-cased on the way (a secret reflected
    into a redirect's host name comes back in lower case), and a lower-cased key is still most
    of a key.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        marks: dict[str, str] = {}
        for name, value in secrets.items():
            for form in (value, quote(value, safe=""), json.dumps(value)[1:-1]):
                marks.setdefault(form.lower(), f"[redacted:{name}]")
        self._marks = marks
        # Longest first, so a secret that contains another is replaced whole.
        forms = sorted(marks, key=len, reverse=True)
        self._text = re.compile("|".join(map(re.escape, forms)), re.IGNORECASE) if forms else None
        self._data = (
            re.compile(b"|".join(re.escape(f.encode("utf-8")) for f in forms), re.IGNORECASE)
            if forms
            else None
        )

    def __bool__(self) -> bool:
        return bool(self._marks)

    def text(self, value: str) -> str:
        if self._text is None:
            return value
        return self._text.sub(lambda m: self._marks[m.group(0).lower()], value)

    def data(self, value: bytes) -> bytes:
        if self._data is None:
            return value
        return self._data.sub(
            lambda m: self._marks[m.group(0).decode("utf-8").lower()].encode("utf-8"), value
        )

    def contains_secret(self, value: bytes) -> bool:
        return self._data is not None and self._data.search(value) is not None
