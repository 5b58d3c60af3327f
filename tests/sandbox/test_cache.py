"""The compiled-module cache: atomic writes, integrity checks, corrupt entries dropped."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from sandbox.cache import ModuleCache, default_cache_dir
from sandbox.engine import fingerprint

SHA = hashlib.sha256(b"module").hexdigest()


def test_round_trip(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path / "c")
    cache.put(SHA, b"compiled code")
    assert cache.get(SHA) == b"compiled code"


def test_missing_entry_is_none(tmp_path: Path) -> None:
    assert ModuleCache(tmp_path).get(SHA) is None


def test_key_has_module_digest_and_engine_fingerprint(tmp_path: Path) -> None:
    assert ModuleCache(tmp_path).path_for(SHA).name == f"{SHA}-{fingerprint()}.cwasm"


def test_directory_is_private_and_no_temporary_files_remain(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path / "c")
    cache.put(SHA, b"x" * 1000)
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o700
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache.path_for(SHA).name]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="flipped-bit"),
        pytest.param(lambda b: b[:20], id="truncated"),
        pytest.param(lambda b: b"garbage", id="garbage"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_corrupt_entry_is_ignored_and_removed(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    cache = ModuleCache(tmp_path)
    cache.put(SHA, b"compiled code" * 100)
    path = cache.path_for(SHA)
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(SHA) is None
    assert not path.exists()
    cache.put(SHA, b"rebuilt")
    assert cache.get(SHA) == b"rebuilt"


def test_unwritable_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ModuleCache(blocker / "sub")
    cache.put(SHA, b"code")
    assert cache.get(SHA) is None


def test_default_directory_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "airlock" / "modules"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "airlock" / "modules"
