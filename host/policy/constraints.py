"""Argument constraints of a rule (``[rule.args.NAME]``), compiled once and matched per request.

Each check returns ``None`` when the argument satisfies the constraint, or a short reason why it
does not; the engine shows the reason in explanations. An absent argument is checked with the
``default`` its skill's schema declares (the value the skill will actually use); with no
default it does not satisfy the constraint (fail closed for allow rules; a deny rule on it
simply does not apply).
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from host.policy.schema import ArgConstraint
from host.skills.manifest import Manifest

__all__ = ["CompiledConstraint", "compile_constraint", "glob_regex", "host_allowed"]


@functools.lru_cache(maxsize=4096)  # rule sets repeat the same few globs
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob: ``*`` and ``?`` stay within one path segment, ``**`` spans any
    number of segments (including none), everything else is literal."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """True when ``host`` equals an entry or is a subdomain of a ``*.example.org`` entry."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def _guest_relative(value: str, root: str) -> str | None:
    """``value`` (relative to ``root``, or absolute under it) as a path relative to ``root``;
    None when it escapes ``root`` or is not a clean path."""
    if "\x00" in value or "\\" in value:
        return None
    joined = value if value.startswith("/") else posixpath.join(root, value)
    norm = posixpath.normpath(joined)
    if norm == root:
        return ""
    if not norm.startswith(root.rstrip("/") + "/"):
        return None
    return norm[len(root.rstrip("/")) + 1 :]


@dataclass(frozen=True)
class CompiledConstraint:
    """One ``[rule.args.NAME]`` table, ready to match."""

    name: str
    spec: ArgConstraint
    globs: tuple[re.Pattern[str], ...]

    def check(self, arguments: dict[str, Any], manifest: Manifest) -> str | None:
        """None when ``arguments[name]`` satisfies every condition, else why not."""
        if self.name in arguments:
            value = arguments[self.name]
        else:
            declared = manifest.parameters.get("properties", {}).get(self.name, {})
            if not isinstance(declared, dict) or "default" not in declared:
                return f"argument `{self.name}` is absent and has no default"
            value = declared["default"]
        spec = self.spec
        if spec.one_of is not None and (
            isinstance(value, (dict, list, float)) or value not in spec.one_of
        ):
            return f"`{self.name}` is not one of the listed values"
        if spec.min is not None or spec.max is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"`{self.name}` is not a number"
            if spec.min is not None and value < spec.min:
                return f"`{self.name}` = {value} is below {spec.min}"
            if spec.max is not None and value > spec.max:
                return f"`{self.name}` = {value} is above {spec.max}"
        if spec.max_length is not None:
            if not isinstance(value, (str, list)):
                return f"`{self.name}` has no length"
            if len(value) > spec.max_length:
                return f"`{self.name}` is longer than {spec.max_length}"
        if spec.hosts is not None:
            reason = self._check_url(value, spec.hosts)
            if reason:
                return reason
        if spec.within is not None:
            return self._check_path(value, spec.within, manifest)
        return None

    def _check_url(self, value: object, hosts: tuple[str, ...]) -> str | None:
        if not isinstance(value, str):
            return f"`{self.name}` is not a URL string"
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            return f"`{self.name}` is not a valid URL"
        if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
            return f"`{self.name}` is not an http(s) URL with a host and no credentials"
        if not host_allowed(host, hosts):
            return f"`{self.name}` host {host!r} is not in the rule's hosts"
        return None

    def _check_path(self, value: object, label: str, manifest: Manifest) -> str | None:
        if not isinstance(value, str):
            return f"`{self.name}` is not a path string"
        root = next((d.guest for d in manifest.capabilities.dirs if d.name == label), None)
        if root is None:
            return f"skill {manifest.name} declares no directory labelled {label!r}"
        rel = _guest_relative(value, root)
        if rel is None:
            return f"`{self.name}` escapes {root}"
        if self.globs and not any(g.match(rel) for g in self.globs):
            return f"`{self.name}` = {rel or '.'!r} matches none of the rule's globs"
        return None


def compile_constraint(name: str, spec: ArgConstraint) -> CompiledConstraint:
    """Compile ``spec`` for argument ``name``."""
    return CompiledConstraint(
        name=name, spec=spec, globs=tuple(glob_regex(g) for g in spec.glob or ())
    )
