"""Canonical JSON: the one byte encoding that every Airlock digest is computed over.

Sorted keys, no insignificant whitespace, ASCII only (non-ASCII as ``\\uXXXX`` escapes), and no
NaN or infinity. Two equal JSON values always encode to the same bytes, so a digest of the
encoding is a digest of the value. Auditors can reproduce it with any JSON library that sorts keys
and escapes non-ASCII (Python: ``json.dumps(v, sort_keys=True, separators=(",", ":"))``).
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["canonical_json", "sha256_json"]


def canonical_json(value: object) -> bytes:
    """The canonical encoding of ``value``. Raises ValueError for NaN or infinite floats."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def sha256_json(value: object) -> str:
    """Hex sha256 of the canonical encoding of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
