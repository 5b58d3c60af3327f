"""Checking a request's arguments: generic size caps first, then the skill's JSON schema.

The caps run before the schema so that a hostile value (a megabyte string, JSON nested a
thousand deep) is refused in linear time without ever reaching the schema validator. Every
refusal is a :class:`RequestError` whose message names the argument and says what was expected,
so that the model (or a person) can correct the call.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from host.errors import RequestError
from host.skills.manifest import Manifest

__all__ = ["DEFAULT_LIMITS", "ArgumentLimits", "check_arguments", "describe_value"]

# 64 KiB: chat-born tool calls are small; bulk data belongs in files the skill reads.
DEFAULT_MAX_BYTES = 64 * 1024
# 16 levels: no shipped skill schema nests deeper than 3; a deep value is an attack on parsers.
DEFAULT_MAX_DEPTH = 16
# 16 KiB per string, 1,024 items per array or object: generous for tools, small for bombs.
DEFAULT_MAX_STRING = 16 * 1024
DEFAULT_MAX_ITEMS = 1024
# Integers beyond 2**53 do not survive a round trip through most JSON implementations.
MAX_SAFE_INT = 2**53


class ArgumentLimits(BaseModel):
    """Caps on a request's arguments, applied before the skill's own schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: Annotated[int, Field(gt=0, le=16 * 1024 * 1024)] = DEFAULT_MAX_BYTES
    max_depth: Annotated[int, Field(gt=0, le=64)] = DEFAULT_MAX_DEPTH
    max_string: Annotated[int, Field(gt=0, le=16 * 1024 * 1024)] = DEFAULT_MAX_STRING
    max_items: Annotated[int, Field(gt=0, le=1_000_000)] = DEFAULT_MAX_ITEMS


DEFAULT_LIMITS = ArgumentLimits()


def describe_value(value: object) -> str:
    """A short phrase naming what ``value`` is, for error messages ("an integer", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return f"a {type(value).__name__}"


def _where(path: list[str | int]) -> str:
    if not path:
        return "the arguments"
    return (
        "argument `"
        + "".join(
            f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
            for i, p in enumerate(path)
        )
        + "`"
    )


def _check_shape(value: object, limits: ArgumentLimits, path: list[str | int]) -> int:
    """Walk ``value`` iteratively; return its approximate encoded size. Raises RequestError."""
    size = 0
    stack: list[tuple[object, list[str | int]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if len(where) > limits.max_depth:
            raise RequestError(
                f"{_where(where[: limits.max_depth])} nests deeper than {limits.max_depth} levels",
                hint="flatten the value",
            )
        if isinstance(item, dict):
            if len(item) > limits.max_items:
                raise RequestError(
                    f"{_where(where)} has {len(item)} keys; at most {limits.max_items} are allowed"
                )
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise RequestError(f"{_where(where)} has a non-string key")
                size += len(key) + 4
                stack.append((sub, [*where, key]))
        elif isinstance(item, list):
            if len(item) > limits.max_items:
                raise RequestError(
                    f"{_where(where)} has {len(item)} items; at most {limits.max_items} are allowed"
                )
            stack.extend((sub, [*where, i]) for i, sub in enumerate(item))
            size += 2
        elif isinstance(item, str):
            if len(item) > limits.max_string:
                raise RequestError(
                    f"{_where(where)} is a string of {len(item)} characters; at most "
                    f"{limits.max_string} are allowed",
                    hint="pass large content as a file in the workspace",
                )
            size += len(item.encode("utf-8", "surrogatepass")) + 2
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INT:
                raise RequestError(f"{_where(where)} is an integer beyond ±2**53")
            size += 20
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise RequestError(f"{_where(where)} is not a finite number")
            size += 24
        else:
            raise RequestError(f"{_where(where)} is {describe_value(item)}, not a JSON value")
        if size > limits.max_bytes:
            raise RequestError(
                f"the arguments are larger than {limits.max_bytes} bytes",
                hint="pass large content as a file in the workspace",
            )
    return size


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def _expected(schema: dict[str, Any]) -> str:
    """What ``schema`` asks for, in words: "a string of at most 1024 characters"."""
    kinds = schema.get("type")
    names = [kinds] if isinstance(kinds, str) else list(kinds or [])
    phrase = " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names) or "a value"
    bounds = []
    for key, word in (("minLength", "at least"), ("maxLength", "at most")):
        if key in schema:
            n = schema[key]
            bounds.append(f"{word} {n} character{'' if n == 1 else 's'}")
    if "minimum" in schema:
        bounds.append(f"at least {schema['minimum']}")
    if "maximum" in schema:
        bounds.append(f"at most {schema['maximum']}")
    if "maxItems" in schema:
        bounds.append(f"at most {schema['maxItems']} items")
    if "enum" in schema:
        bounds.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    if "pattern" in schema:
        bounds.append(f"matching /{schema['pattern']}/")
    if bounds:
        phrase += " of " if phrase.startswith(("a string", "an array")) else " "
        phrase += " and ".join(bounds)
    return phrase


def _message(error: jsonschema.ValidationError, manifest: Manifest) -> str:
    path = list(error.absolute_path)
    where = _where(path)
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return f"missing required {_where([*path, missing])}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set((schema.get("properties") or {}).keys())
        extra = sorted(k for k in error.instance if k not in known)
        takes = ", ".join(f"`{k}`" for k in sorted(known)) or "no arguments"
        return f"unknown {_where([*path, extra[0]])} for skill {manifest.name}; it takes {takes}"
    schema = error.schema if isinstance(error.schema, dict) else {}
    return f"{where} must be {_expected(schema)}; got {describe_value(error.instance)}"


def check_arguments(
    arguments: object, manifest: Manifest, limits: ArgumentLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """``arguments`` checked against the caps and ``manifest.parameters``; RequestError if not.

    Returns the arguments unchanged (a dict). Only the first error is reported, chosen by
    jsonschema's relevance ordering, with a count of the others.
    """
    if not isinstance(arguments, dict):
        raise RequestError(f"the arguments must be a JSON object; got {describe_value(arguments)}")
    _check_shape(arguments, limits, [])
    validator = jsonschema.Draft202012Validator(manifest.parameters)
    errors = list(validator.iter_errors(arguments))
    if errors:
        first = jsonschema.exceptions.best_match(errors)
        more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise RequestError(
            _message(first, manifest) + more,
            hint=f"see the parameters of skill {manifest.name}",
        )
    return arguments
