"""On-disk cache of compiled modules, so a module is compiled once per wasmtime version.

A compiled artifact is native code that wasmtime loads without re-validating it, so a corrupted
or tampered entry must never reach :meth:`wasmtime.Module.deserialize`. Each entry therefore
carries the SHA-256 of its payload and is checked on read; a bad entry is deleted and the module
is compiled again. Entries are written atomically (temporary file, fsync, rename) so a crash
leaves either the old entry or the new one. The directory is created private (0700) because
whoever can write it can choose the code the sandbox runs (inside the sandbox, still).

The key is the module's SHA-256 plus :func:`sandbox.engine.fingerprint` (wasmtime version and
engine settings), so an upgrade or a settings change simply misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from sandbox.engine import fingerprint

__all__ = ["MAX_ARTIFACT_BYTES", "ModuleCache", "default_cache_dir"]

_MAGIC = b"AIRLOCK-CWASM-1\n"
_DIGEST_LEN = 32
# A compiled skill is a few MiB at most; a bigger entry is not ours and is not read into memory.
MAX_ARTIFACT_BYTES = 256 * 1024 * 1024


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/airlock/modules``, else ``~/.cache/airlock/modules``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airlock" / "modules"


class ModuleCache:
    """Compiled modules keyed by module digest; safe to share between threads and processes."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_cache_dir()
        self._engine = fingerprint()

    def path_for(self, module_sha256: str) -> Path:
        """Where the entry for a module with this digest lives."""
        return self.directory / f"{module_sha256}-{self._engine}.cwasm"

    def get(self, module_sha256: str) -> bytes | None:
        """The verified artifact, or None when absent, oversized or corrupt (then deleted)."""
        path = self.path_for(module_sha256)
        try:
            with path.open("rb") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_ARTIFACT_BYTES:
                    raise ValueError("oversized")
                blob = handle.read()
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self._discard(path)
            return None
        head = len(_MAGIC) + _DIGEST_LEN
        digest, payload = blob[len(_MAGIC) : head], blob[head:]
        if not blob.startswith(_MAGIC) or hashlib.sha256(payload).digest() != digest:
            self._discard(path)
            return None
        return payload

    def put(self, module_sha256: str, artifact: bytes) -> None:
        """Store ``artifact`` atomically. Failing to cache is never an error, only slower."""
        if len(artifact) > MAX_ARTIFACT_BYTES:
            return
        with contextlib.suppress(OSError):
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".cwasm")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(_MAGIC + hashlib.sha256(artifact).digest() + artifact)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path_for(module_sha256))
            except OSError:
                os.unlink(tmp)
                raise

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
