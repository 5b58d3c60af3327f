"""Where secret values come from. Only the broker reads them, only to fill request headers.

Configuration is read once, at start-up, into a frozen :class:`StaticSecrets`; the broker never
reads the environment or the disk itself. Two sources are provided:

- :meth:`StaticSecrets.from_environ`: the deployer's config maps each secret name to the name
  of an environment variable of the host process (``SEARCH_API_KEY = "AIRLOCK_SEARCH_KEY"``).
- :meth:`StaticSecrets.from_file`: a TOML file of ``NAME = "value"`` lines that must be owned by
  the host's user and readable by nobody else (mode 0600 or 0400).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from host.errors import BrokerError, ConfigError
from host.skills.manifest import SECRET_NAME
from host.tomlfile import parse_toml, read_capped

# A secret shorter than this cannot be redacted from replies without mangling ordinary text,
# and is too weak to be a credential anyway.
MIN_SECRET_CHARS = 8
MAX_SECRET_CHARS = 8192  # it travels in an HTTP header
# Room for over a hundred secrets at the largest size; a bigger file is the wrong file.
MAX_SECRETS_FILE_BYTES = 1024 * 1024


class SecretsProvider(Protocol):
    """Looks up a secret's value by name."""

    def get(self, name: str) -> str:
        """The value of ``name``; raises BrokerError if the deployer did not provide it."""
        ...


class StaticSecrets:
    """Secret values loaded once. ``repr`` never shows a value."""

    def __init__(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            _check(name, value)
        self._values = dict(values)

    def get(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise BrokerError(
                f"secret {name!r} is granted but has no value",
                hint="set it in the secrets file or the environment variable your config names",
            ) from None

    def names(self) -> frozenset[str]:
        return frozenset(self._values)

    def __repr__(self) -> str:
        return f"StaticSecrets(names={sorted(self._values)})"

    @classmethod
    def from_environ(
        cls, variables: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> StaticSecrets:
        """Secrets named in ``variables`` (secret name -> environment variable name).

        A variable that is unset is a ConfigError: the deployer asked for it.
        """
        env = os.environ if environ is None else environ
        values = {}
        for name, var in variables.items():
            if var not in env:
                raise ConfigError(
                    f"secret {name!r} should come from ${var}, which is not set",
                    hint=f"export {var} before starting airlock, or remove the secret",
                )
            values[name] = env[var]
        return cls(values)

    @classmethod
    def from_file(cls, path: Path) -> StaticSecrets:
        """Secrets from a TOML file of ``NAME = "value"``; refused unless only its owner (the
        host's user) can read it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise ConfigError(f"cannot open secrets file {path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"secrets file {path} is not a regular file")
            if info.st_mode & 0o077:
                raise ConfigError(
                    f"secrets file {path} is readable by others (mode {info.st_mode & 0o777:o})",
                    hint=f"chmod 600 {path}",
                )
            if info.st_uid != os.getuid():
                raise ConfigError(
                    f"secrets file {path} is owned by uid {info.st_uid}, not by this user",
                    hint=f"chown it to uid {os.getuid()}",
                )
            source = f"secrets file {path}"
            raw = read_capped(f, max_bytes=MAX_SECRETS_FILE_BYTES, source=source, error=ConfigError)
        data = parse_toml(raw, source=source, error=ConfigError)
        values: dict[str, str] = {}
        for name, value in data.items():
            if not isinstance(value, str):
                raise ConfigError(f"{path}: secret {name!r} must be a string")
            values[name] = value
        return cls(values)


def _check(name: str, value: str) -> None:
    if not SECRET_NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid secret name (letters, digits, _ . -)")
    if not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS:
        raise ConfigError(
            f"secret {name!r} must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters",
            hint="short values cannot be redacted from replies reliably",
        )
    if any(c in value for c in "\r\n\0"):
        raise ConfigError(f"secret {name!r} contains a line break or NUL")
