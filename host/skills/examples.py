"""A skill's example cases (``examples.toml`` in the skill folder).

Each case gives the arguments the model would send and what the skill must answer. ``airlock
skill test`` runs every case in the real sandbox with a grant built from the manifest. A case can
seed files in a granted directory, serve canned HTTP routes on a loopback server (its base URL
replaces ``${server}`` anywhere in the arguments), provide secret values, and check files after
the run. Example::

    [[case]]
    name = "reads a file"
    args = { path = "hello.txt" }
    files.workspace = { "hello.txt" = "hi\\n" }
    expect = { path = "hello.txt", content = "hi\\n", truncated = false }

    [[case]]
    name = "missing file"
    args = { path = "nope.txt" }
    expect_error = "not_found"
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from host.errors import SkillError
from host.tomlfile import parse_toml, read_capped

EXAMPLES_FILE = "examples.toml"
MAX_CASES = 64  # examples are documentation and a smoke test, not a test suite
# 64 cases with seeded files and canned HTTP bodies fit well within this; more is not an example.
MAX_EXAMPLES_BYTES = 256 * 1024
ERROR_CODE = r"^[a-z][a-z0-9_]*$"


class Route(BaseModel):
    """One canned HTTP answer of the case's loopback server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[str, Field(pattern=r"^/")]
    status: Annotated[int, Field(ge=100, le=599)] = 200
    content_type: str = "text/plain; charset=utf-8"
    body: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    # The request must carry these headers (after the broker injected secrets), else 401.
    require_headers: dict[str, str] = Field(default_factory=dict)


class Case(BaseModel):
    """One example: arguments in, expected result or error out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    args: dict[str, Any]
    files: dict[str, dict[str, str]] = Field(default_factory=dict)  # dir label -> path -> text
    serve: tuple[Route, ...] = ()
    secrets: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)  # values may use ${server}
    expect: dict[str, Any] | None = None  # the result, exactly
    expect_subset: dict[str, Any] | None = None  # these keys of the result, exactly
    expect_pattern: dict[str, str] = Field(default_factory=dict)  # key -> regex on a str value
    expect_error: Annotated[str, Field(pattern=ERROR_CODE)] | None = None
    expect_files: dict[str, dict[str, str]] = Field(default_factory=dict)  # label -> path -> text
    expect_absent: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # label -> paths

    @model_validator(mode="after")
    def _one_expectation(self) -> Case:
        wants_result = (
            self.expect is not None or self.expect_subset is not None or bool(self.expect_pattern)
        )
        if wants_result == (self.expect_error is not None):
            raise ValueError(
                "give either expect / expect_subset / expect_pattern or expect_error, not both"
            )
        for key, pattern in self.expect_pattern.items():
            try:
                re.compile(pattern)
            except re.error as exc:  # not a ValueError, so pydantic would let it escape
                raise ValueError(
                    f"expect_pattern `{key}` is not a valid regular expression: {exc}"
                ) from None
        return self


class Examples(BaseModel):
    """The whole ``examples.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: Annotated[tuple[Case, ...], Field(min_length=1, max_length=MAX_CASES)]


def load_examples(folder: Path) -> tuple[Case, ...]:
    """The cases of the skill in ``folder``; a missing or invalid file is a SkillError."""
    path = folder / EXAMPLES_FILE
    source = f"examples file {path}"
    try:
        with path.open("rb") as f:
            raw = read_capped(f, max_bytes=MAX_EXAMPLES_BYTES, source=source, error=SkillError)
    except FileNotFoundError:
        raise SkillError(
            f"{folder} has no {EXAMPLES_FILE}",
            hint="every skill ships at least one example case; see docs/skill-authors.md",
        ) from None
    except OSError as exc:
        raise SkillError(f"cannot read examples file {path}: {exc.strerror}") from None
    data = parse_toml(raw, source=source, error=SkillError)
    try:
        return Examples.model_validate(data).case
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SkillError(
            f"{path}: `{where}`: {first['msg']}",
            hint="see docs/skill-authors.md for the keys of an example case",
        ) from None
