"""The skill manifest (``skill.toml``), validated strictly at load time.

A manifest *declares* what a skill needs; the deployer's policy decides what it *gets*. The
manifest is also what the model sees: ``description`` and ``parameters`` become its tool schema.

Example::

    name = "fs.read"
    version = "0.1.0"
    description = "Read a UTF-8 text file from the workspace."
    destructive = false
    module = "build/fs_read.wasm"
    sha256 = "9f2c..."

    [parameters]
    type = "object"
    required = ["path"]
    additionalProperties = false
    properties.path = { type = "string", maxLength = 1024 }

    [[capabilities.dirs]]
    name = "workspace"
    guest = "/workspace"
    access = "ro"
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from host.errors import SkillError
from host.tomlfile import parse_toml, read_capped
from sandbox.spec import Limits

SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A real manifest is one or two KiB; the cap keeps a hostile one from costing memory and time.
MAX_MANIFEST_BYTES = 64 * 1024


class DirNeed(BaseModel):
    """A directory the skill needs, by label; the policy maps the label to a host path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    guest: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]*$")]
    access: Literal["ro", "rw"] = "ro"

    @field_validator("guest")
    @classmethod
    def _no_dotdot(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError("guest path must not contain '..'")
        return v


class HttpNeed(BaseModel):
    """An outbound host the skill may ask the broker to reach."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "api.example.org", "api.example.org:8443", "*.example.org" (its subdomains), or "*": any
    # host the deployer's policy grants (for skills that take URLs from their arguments).
    host: Annotated[str, Field(pattern=r"^(\*|(\*\.)?[A-Za-z0-9.-]+(:[0-9]+)?)$")]
    methods: frozenset[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]] = frozenset(
        {"GET"}
    )


class Capabilities(BaseModel):
    """Everything a skill may ever be granted; policy can only narrow it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dirs: tuple[DirNeed, ...] = ()
    http: tuple[HttpNeed, ...] = ()
    secrets: tuple[Annotated[str, Field(pattern=SECRET_NAME.pattern)], ...] = ()
    env: tuple[Annotated[str, Field(pattern=ENV_NAME.pattern)], ...] = ()


class Manifest(BaseModel):
    """A validated ``skill.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=SKILL_NAME.pattern, max_length=64)]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")]
    description: Annotated[str, Field(min_length=1, max_length=1024)]
    parameters: dict[str, Any]
    result: dict[str, Any] | None = None
    destructive: bool = False
    effect: Annotated[str, Field(max_length=300)] | None = None
    capabilities: Capabilities = Capabilities()
    limits: Limits = Limits()
    module: str | None = None  # path relative to the skill folder; default build/<name>.wasm
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None

    @field_validator("parameters", "result")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        try:
            jsonschema.Draft202012Validator.check_schema(v)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> Manifest:
        if self.parameters.get("type") != "object":
            raise ValueError('parameters must be a JSON Schema with type = "object"')
        if self.destructive and not self.effect:
            raise ValueError(
                "a destructive skill needs `effect`, one sentence shown to the approver"
            )
        return self

    @property
    def module_name(self) -> str:
        """The module path relative to the skill folder."""
        return self.module or f"build/{self.name.replace('.', '_')}.wasm"


def load_manifest(path: Path) -> Manifest:
    """Read and validate ``path`` (a ``skill.toml``); errors name the file and the key.

    Any content gives a Manifest or a SkillError: oversized files, bytes that are not UTF-8 and
    nesting deep enough to exhaust the parsers are refused with a reason, not a traceback.
    """
    source = f"manifest {path}"
    try:
        with path.open("rb") as f:
            raw = read_capped(f, max_bytes=MAX_MANIFEST_BYTES, source=source, error=SkillError)
    except OSError as exc:
        raise SkillError(f"cannot read manifest {path}: {exc.strerror}") from None
    data = parse_toml(raw, source=source, error=SkillError)
    try:
        return Manifest.model_validate(data)
    except RecursionError:
        raise SkillError(f"{path}: a JSON Schema in the manifest is nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SkillError(
            f"{path}: `{where}`: {first['msg']}",
            hint="see docs/skill-authors.md for every manifest key",
        ) from None
