"""Turning a JID (attacker-chosen text) into one safe directory name under the memory root.

The name stays readable for ordinary JIDs (``alice@example.org`` is kept as is, like the Fluux
Agent layout) and is an injective encoding of anything else: every byte outside
``[a-z0-9@._+-]`` becomes ``%XX`` (``%`` itself included), so ``/``, ``\\``, NUL, control and
unicode look-alike characters cannot name another directory; a leading dot is encoded so no name
is ``.``, ``..`` or hidden; overlong names keep a readable prefix and end with a SHA-256 of the
whole key. :func:`memory_dir` also checks that the result is a direct child of the root.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from host.errors import ConfigError

__all__ = ["MAX_NAME", "jid_dirname", "memory_dir"]

SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789@._+-")
# Most filesystems allow 255 bytes per name; stay well below to leave room for suffixes.
MAX_NAME = 160


def jid_dirname(jid: str) -> str:
    """The directory name for ``jid`` (a bare user or room JID). Never empty, never ``..``."""
    key = unicodedata.normalize("NFC", jid.strip()).lower()
    raw = key.encode("utf-8", "surrogatepass")
    out = []
    for i, byte in enumerate(raw):
        if byte in SAFE and not (i == 0 and byte == ord(".")):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    # "%empty" cannot come out of the encoding above (a % is always followed by two hex digits).
    name = "".join(out) or "%empty"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(raw).hexdigest()
        name = f"{name[: MAX_NAME - 66]}~{digest}"
    return name


def memory_dir(root: Path, jid: str) -> Path:
    """``root / jid_dirname(jid)``, checked to be a direct child of ``root``."""
    path = root / jid_dirname(jid)
    if path.parent != root or path.name in {"", ".", ".."}:
        raise ConfigError(f"refusing memory path for {jid!r}: it escapes {root}")
    return path
