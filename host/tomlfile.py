"""Reading a TOML file that may be hostile, with one clear error for every way it can fail.

``tomllib`` raises more than ``TOMLDecodeError`` on hostile input: text that is not UTF-8 fails
before parsing starts, arrays or inline tables nested a few hundred deep raise ``RecursionError``,
and an integer longer than Python's digit limit raises a plain ``ValueError``. Every loader at a
trust boundary (manifest, examples, configuration, secrets) reads through :func:`read_capped` and
:func:`parse_toml`, so each of these becomes the caller's own subsystem error naming the file,
and a caller never sees half a document.

The caller opens the file itself: loaders differ in how they open (``O_NOFOLLOW``, ownership
checks) and in what they say when the file is missing.
"""

from __future__ import annotations

import sys
import tomllib
from typing import IO, Any

from host.errors import AirlockError


def read_capped(f: IO[bytes], *, max_bytes: int, source: str, error: type[AirlockError]) -> bytes:
    """The whole content of the open file ``f``, refused with ``error`` past ``max_bytes``.

    At most ``max_bytes + 1`` bytes are read, so an oversized file costs no more memory than a
    file at the cap. ``source`` names the file in the message (e.g. ``"manifest /x/skill.toml"``).
    """
    raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise error(
            f"{source} is over the {max_bytes}-byte cap",
            hint="check that this is the right file; real ones are far smaller",
        )
    return raw


def parse_toml(raw: bytes, *, source: str, error: type[AirlockError]) -> dict[str, Any]:
    """The TOML document in ``raw``; any failure is ``error`` naming ``source`` and the reason.

    Raises ``error`` (never another exception) for text that is not UTF-8, invalid TOML, nesting
    too deep for the parser, and integers over Python's digit limit.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{source} is not valid TOML: not UTF-8 text (bad byte on line {line})",
            hint="save the file as UTF-8",
        ) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise error(
            f"{source} nests arrays or tables too deeply to read",
            hint="a real file needs a few levels of nesting at most",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(
            f"{source} is not valid TOML: {exc}",
            hint="check quoting and brackets near the line and column given",
        ) from None
    except ValueError as exc:
        # The only other ValueError tomllib lets out: an integer over the interpreter's digit
        # limit. Its text ends with advice for Python programmers, which is cut.
        reason = str(exc).split(";")[0]
        raise error(
            f"{source} is not valid TOML: {reason}",
            hint=f"write integers of at most {sys.get_int_max_str_digits()} digits",
        ) from None
