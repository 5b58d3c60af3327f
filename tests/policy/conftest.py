"""Small manifests shaped like the starter skills, and a helper to write policy directories."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from host.skills.manifest import Manifest


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


def _params(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


PATH = {"type": "string", "maxLength": 1024}
TEXT = {"type": "string", "maxLength": 4096}
WS_RO = {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "ro"}]}
WS_RW = {"dirs": [{"name": "workspace", "guest": "/workspace", "access": "rw"}]}
NOTES = {"dirs": [{"name": "notes", "guest": "/notes", "access": "rw"}]}
NOTES_RO = {"dirs": [{"name": "notes", "guest": "/notes", "access": "ro"}]}


def starter_manifests() -> dict[str, Manifest]:
    """The shapes of the starter skills (schemas, labels, destructive flags) for policy tests,
    independent of which skills are built in skills_wasm/ right now."""

    def destructive(name: str, **extra: Any) -> Manifest:
        return manifest(name, destructive=True, effect=f"{name} changes files.", **extra)

    skills = [
        manifest("echo", parameters=_params(["text"], text=TEXT)),
        manifest("clock"),
        manifest("calc", parameters=_params(["expression"], expression=TEXT)),
        manifest(
            "fs.list", parameters=_params([], path={**PATH, "default": "."}), capabilities=WS_RO
        ),
        manifest("fs.read", parameters=_params(["path"], path=PATH), capabilities=WS_RO),
        manifest(
            "fs.search",
            parameters=_params(["query"], query=TEXT, path={**PATH, "default": "."}),
            capabilities=WS_RO,
        ),
        destructive(
            "fs.write",
            parameters=_params(["path", "content"], path=PATH, content=TEXT),
            capabilities=WS_RW,
        ),
        destructive("fs.delete", parameters=_params(["path"], path=PATH), capabilities=WS_RW),
        destructive(
            "fs.move",
            parameters=_params(["from", "to"], **{"from": PATH, "to": PATH}),
            capabilities=WS_RW,
        ),
        manifest(
            "http.fetch",
            parameters=_params(["url"], url=PATH, method={"type": "string"}),
            capabilities={"http": [{"host": "*", "methods": ["GET", "POST"]}]},
        ),
        manifest(
            "web.search",
            parameters=_params(["query"], query=TEXT),
            capabilities={
                "http": [{"host": "search.example.org"}],
                "secrets": ["SEARCH_API_KEY"],
                "env": ["SEARCH_ENDPOINT"],
            },
            limits={"fuel": 1_000_000, "memory_mb": 64},
        ),
        manifest("notes.remember", parameters=_params(["text"], text=TEXT), capabilities=NOTES),
        manifest("notes.recall", parameters=_params([], query=TEXT), capabilities=NOTES_RO),
    ]
    return {m.name: m for m in skills}


@pytest.fixture
def manifests() -> dict[str, Manifest]:
    return starter_manifests()


PolicyWriter = Callable[..., Path]


def policy_writer(directory: Path) -> PolicyWriter:
    """A function write(text, name="main.toml") that writes a policy file into ``directory``
    (created on first use) and returns the directory."""

    def write(text: str, name: str = "main.toml") -> Path:
        directory.mkdir(exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write


@pytest.fixture
def write_policy(tmp_path: Path) -> PolicyWriter:
    """write_policy(text, name="main.toml") writes into tmp_path/policies and returns the dir."""
    return policy_writer(tmp_path / "policies")
