"""Small manifests shaped like the starter skills, and a helper to write policy directories."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from host.skills.manifest import Manifest

FS_PARAMS = {
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {"path": {"type": "string", "maxLength": 1024}},
}


def manifest(name: str, **extra: Any) -> Manifest:
    """A valid manifest for ``name``; keyword arguments override fields."""
    doc: dict[str, Any] = {
        "name": name,
        "version": "0.1.0",
        "description": f"test skill {name}",
        "parameters": {"type": "object", "additionalProperties": False, "properties": {}},
    }
    doc.update(extra)
    return Manifest.model_validate(doc)


def starter_manifests() -> dict[str, Manifest]:
    """The starter skills' shapes (echo, fs.*, http.fetch, web.search) for policy tests."""
    ws_ro = {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "ro"}]}
    ws_rw = {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "rw"}]}
    echo_params = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"text": {"type": "string", "maxLength": 4096}},
    }
    url_params = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {"url": {"type": "string", "maxLength": 2048}},
    }
    out = {
        "echo": manifest("echo", parameters=echo_params),
        "clock": manifest("clock"),
        "fs.read": manifest("fs.read", parameters=FS_PARAMS, capabilities=ws_ro),
        "fs.list": manifest("fs.list", parameters=FS_PARAMS, capabilities=ws_ro),
        "fs.write": manifest("fs.write", parameters=FS_PARAMS, capabilities=ws_rw),
        "fs.delete": manifest(
            "fs.delete",
            parameters=FS_PARAMS,
            capabilities=ws_rw,
            destructive=True,
            effect="Deletes a file from the workspace.",
        ),
        "http.fetch": manifest(
            "http.fetch",
            parameters=url_params,
            capabilities={"http": [{"host": "api.example.org", "methods": ["GET", "POST"]}]},
        ),
        "web.search": manifest(
            "web.search",
            parameters=echo_params,
            capabilities={
                "http": [{"host": "search.example.org"}],
                "secrets": ["SEARCH_API_KEY"],
                "env": ["LANG"],
            },
            limits={"fuel": 1_000_000, "memory_mb": 64},
        ),
    }
    return out


@pytest.fixture
def manifests() -> dict[str, Manifest]:
    return starter_manifests()


PolicyWriter = Callable[..., Path]


@pytest.fixture
def write_policy(tmp_path: Path) -> PolicyWriter:
    """write_policy(text, name="main.toml") writes into tmp_path/policies and returns the dir."""
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)

    def write(text: str, name: str = "main.toml") -> Path:
        (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write
