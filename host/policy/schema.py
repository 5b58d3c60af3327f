"""The policy file format, as strict pydantic models (one ``*.toml`` file = :class:`PolicyDoc`).

These models check everything that can be checked inside one file: unknown keys, types, the
shape of each rule, host paths outside any sane root, secrets written inline. Checks that need
several rules or several files (duplicate ids, shadowed rules) live in :mod:`host.policy.loader`.
The format is documented for deployers in docs/policy.md; keep the two in step.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from host.policy.grant import HttpMethod
from host.skills.manifest import ENV_NAME, SECRET_NAME
from sandbox.spec import Limits

__all__ = [
    "REQUESTER_PLACEHOLDER",
    "ArgConstraint",
    "ConfirmDoc",
    "DirDoc",
    "Effect",
    "GrantDoc",
    "HttpDoc",
    "PolicyDoc",
    "RateDoc",
    "RuleDoc",
    "check_host_path",
]

Effect = Literal["allow", "confirm", "deny"]
Origin = Literal["chat", "room", "protocol", "cli"]

RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
SKILL_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.([a-z][a-z0-9_]*|\*))*(\*)?)$"
GROUP_NAME = r"^[a-z][a-z0-9_-]{0,63}$"
# "*" | "group:NAME" | "domain:HOST" | "room:ROOM@HOST" | "local@domain"
REQUESTER_ENTRY = r"^(\*|group:[a-z][a-z0-9_-]*|domain:[^@\s]+|room:[^\s]+@[^\s]+|[^\s:]+)$"

# Whole-system locations a skill must never see, even read-only: configuration and credentials
# (/etc, /root), kernel interfaces (/proc, /sys, /dev), boot and binaries (a rw grant there is
# code execution on the host), runtime state (/run) and logs (where the audit log lives).
FORBIDDEN_TREES = (
    "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/bin", "/sbin", "/lib",
    "/lib32", "/lib64", "/libx32", "/usr", "/var/log", "/var/run", "/var/lib/dpkg", "/snap",
)  # fmt: skip
# Directories that are fine to grant below, never as a whole (they hold everyone's data).
# (S108: these temporary directories are refused here, not used.)
FORBIDDEN_EXACT = (
    "/", "/home", "/var", "/var/lib", "/srv", "/opt", "/mnt", "/media",
    "/var/tmp",  # noqa: S108
    "/tmp",  # noqa: S108
)  # fmt: skip
# Path components that hold credentials wherever they are.
FORBIDDEN_PARTS = (".ssh", ".gnupg", ".aws", ".kube", ".docker", ".password-store")

# Values that are credentials by their shape: API keys of common providers, private keys, JWTs.
INLINE_SECRET = re.compile(
    r"(sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{16,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.)"
)
SECRET_LIKE_NAME = re.compile(r"(SECRET|TOKEN|PASSW|API_?KEY|PRIVATE|CREDENTIAL)", re.I)


def check_host_path(text: str) -> str:
    """ValueError unless ``text`` is an absolute, normalised path below a sane root."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise ValueError(f"host path {text!r} contains a control character (NUL, newline...)")
    path = PurePosixPath(text)
    if not path.is_absolute():
        raise ValueError(f"host path {text!r} must be absolute")
    if ".." in path.parts or str(path) != (text.rstrip("/") or "/") or "//" in text:
        raise ValueError(f"host path {text!r} must be normalised (no '..', '//' or '.')")
    norm = str(path)
    if norm in FORBIDDEN_EXACT:
        raise ValueError(
            f"host path {norm!r} is a whole system directory; grant a folder made for the skill, "
            "e.g. /srv/airlock/workspace"
        )
    for tree in FORBIDDEN_TREES:
        if norm == tree or norm.startswith(tree + "/"):
            raise ValueError(f"host path {norm!r} is inside {tree}, which no skill may see")
    parts = path.parts
    if len(parts) == 3 and parts[1] == "home":
        raise ValueError(
            f"host path {norm!r} is a whole home directory (with its keys and shell history); "
            "grant a sub-folder made for the skill"
        )
    hit = next((p for p in parts if p in FORBIDDEN_PARTS), None)
    if hit:
        raise ValueError(f"host path {norm!r} contains {hit}, which holds credentials")
    return norm


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


REQUESTER_PLACEHOLDER = "{requester}"


class DirDoc(_Strict):
    """``[rule.grant.dirs.LABEL]``: the host folder behind the manifest's directory label.

    ``path`` may end with the component ``{requester}``: each requester then gets their own
    folder, named by their bare JID, under a parent the deployer created (notes, per-user
    workspaces).
    """

    path: str
    access: Literal["ro", "rw"] = "ro"

    @field_validator("path")
    @classmethod
    def _sane(cls, v: str) -> str:
        if "{" in v or "}" in v:
            parent, sep, tail = v.rpartition("/" + REQUESTER_PLACEHOLDER)
            if not sep or tail or "{" in parent or "}" in parent:
                raise ValueError(
                    f"host path {v!r}: the only placeholder is a last component "
                    f"`/{REQUESTER_PLACEHOLDER}`"
                )
            check_host_path(parent)
            return v
        return check_host_path(v)

    @property
    def per_requester(self) -> bool:
        return self.path.endswith("/" + REQUESTER_PLACEHOLDER)

    def host_path(self, requester: str) -> str:
        """The folder for ``requester`` (a normalised bare JID: one safe path component)."""
        if self.per_requester:
            return self.path[: -len(REQUESTER_PLACEHOLDER)] + requester
        return self.path

    @property
    def fixed_part(self) -> str:
        """The path without its placeholder component: what exists before any request."""
        return self.path.removesuffix("/" + REQUESTER_PLACEHOLDER)


class HttpDoc(_Strict):
    """``[[rule.grant.http]]``: one outbound host the broker may reach for the skill."""

    host: Annotated[str, Field(pattern=r"^(\*\.)?[a-z0-9.-]+(:[0-9]{1,5})?$", max_length=253)]
    methods: tuple[HttpMethod, ...] = ("GET",)
    max_request_kb: Annotated[int, Field(gt=0, le=10_240)] = 64
    max_response_kb: Annotated[int, Field(gt=0, le=65_536)] = 1024
    unsafe_allow_private: bool = False


def _reject_inline_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        raise ValueError(
            'secrets are references: list their names (secrets = ["SEARCH_API_KEY"]); the '
            "values live in the host's secret store, never in a policy file"
        )
    return value


EnvName = Annotated[str, Field(pattern=ENV_NAME.pattern, max_length=128)]
EnvValue = Annotated[str, Field(max_length=4096)]


class GrantDoc(_Strict):
    """``[rule.grant]``: what the sandbox gets when this rule decides (narrowed by the manifest)."""

    dirs: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], DirDoc] = Field(
        default_factory=dict
    )
    http: tuple[HttpDoc, ...] = ()
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    secrets: tuple[Annotated[str, Field(pattern=SECRET_NAME.pattern, max_length=128)], ...] = ()
    limits: Limits = Field(default_factory=Limits)

    _inline = field_validator("secrets", mode="before")(_reject_inline_secrets)

    @field_validator("http")
    @classmethod
    def _one_entry_per_host(cls, v: tuple[HttpDoc, ...]) -> tuple[HttpDoc, ...]:
        hosts = [h.host for h in v]
        twice = sorted({h for h in hosts if hosts.count(h) > 1})
        if twice:
            # Two entries would leave it ambiguous which sizes and flags apply to which method.
            raise ValueError(
                f"host {twice[0]!r} is listed twice; give all its methods in one entry"
            )
        return v

    @field_validator("env")
    @classmethod
    def _no_secret_env(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if SECRET_LIKE_NAME.search(name):
                raise ValueError(
                    f"env `{name}` looks like a secret written inline; move its value to the "
                    f'secret store and grant it by name: secrets = ["{name}"]'
                )
        return v


class ArgConstraint(_Strict):
    """``[rule.args.NAME]``: a condition on one argument; every key given must hold.

    ``within``/``glob`` confine a path argument to a directory label's guest root; ``hosts``
    confines a URL argument's host; ``min``/``max`` bound a number; ``max_length`` bounds a
    string's characters or an array's items; ``one_of`` lists the accepted values.
    """

    within: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    glob: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None = None
    hosts: tuple[Annotated[str, Field(pattern=r"^(\*\.)?[a-z0-9.-]+$")], ...] | None = None
    min: int | float | None = None
    max: int | float | None = None
    max_length: Annotated[int, Field(ge=0)] | None = None
    one_of: tuple[str | int | bool, ...] | None = None

    @model_validator(mode="after")
    def _meaningful(self) -> ArgConstraint:
        if all(getattr(self, f) is None for f in type(self).model_fields):
            raise ValueError("an argument constraint needs at least one condition")
        if self.glob is not None and self.within is None:
            raise ValueError('`glob` needs `within = "LABEL"`: globs are relative to a dir')
        for pattern in self.glob or ():
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(f"glob {pattern!r} must be relative and must not contain '..'")
        for bound in (self.min, self.max):
            # NaN compares false with everything: a NaN bound would let every value through.
            if isinstance(bound, float) and not math.isfinite(bound):
                raise ValueError("`min` and `max` must be finite numbers")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is greater than `max`: no value can match")
        return self


class ConfirmDoc(_Strict):
    """``[rule.confirm]``: who must approve, how many, and for how long the question stands."""

    approvers: Annotated[tuple[str, ...], Field(min_length=1, max_length=64)]
    required: Annotated[int, Field(ge=1, le=16)] = 1
    # 5 minutes: long enough to read the question, short enough that a stale one cannot linger.
    expires_s: Annotated[int, Field(ge=10, le=86_400)] = 300


class RateDoc(_Strict):
    """``[rule.rate]``: a token bucket per requester for this rule."""

    per_minute: Annotated[float, Field(gt=0, le=60_000)] = 30
    burst: Annotated[int, Field(ge=1, le=100_000)] = 10


class RuleDoc(_Strict):
    """One ``[[rule]]``."""

    id: Annotated[str, Field(pattern=RULE_ID)]
    description: Annotated[str, Field(max_length=1000)] = ""
    skills: Annotated[tuple[Annotated[str, Field(pattern=SKILL_PATTERN)], ...], Field(min_length=1)]
    requesters: Annotated[
        tuple[Annotated[str, Field(pattern=REQUESTER_ENTRY, max_length=3071)], ...],
        Field(min_length=1),
    ]
    origins: Annotated[tuple[Origin, ...], Field(min_length=1)] = (
        "chat",
        "room",
        "protocol",
        "cli",
    )
    effect: Effect
    reason: Annotated[str, Field(max_length=500)] = ""
    args: dict[Annotated[str, Field(max_length=128)], ArgConstraint] = Field(default_factory=dict)
    grant: GrantDoc = Field(default_factory=GrantDoc)
    confirm: ConfirmDoc | None = None
    rate: RateDoc = Field(default_factory=RateDoc)
    unsafe_allow_destructive: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> RuleDoc:
        if self.effect == "deny":
            if not self.reason:
                raise ValueError("a deny rule needs `reason`, shown to the requester")
            if self.grant != GrantDoc() or self.confirm is not None:
                raise ValueError("a deny rule grants nothing: remove `grant` and `confirm`")
        if self.effect == "confirm" and self.confirm is None:
            raise ValueError('effect = "confirm" needs a [rule.confirm] table with `approvers`')
        if self.effect == "allow" and self.confirm is not None:
            raise ValueError('[rule.confirm] only applies to effect = "confirm"')
        if self.unsafe_allow_destructive and self.effect != "allow":
            raise ValueError('`unsafe_allow_destructive` only applies to effect = "allow"')
        return self


class PolicyMeta(_Strict):
    """``[policy]``: optional description of the file."""

    description: Annotated[str, Field(max_length=2000)] = ""


class PolicyDoc(_Strict):
    """One policy file."""

    policy: PolicyMeta = Field(default_factory=PolicyMeta)
    groups: dict[
        Annotated[str, Field(pattern=GROUP_NAME)],
        tuple[Annotated[str, Field(pattern=REQUESTER_ENTRY, max_length=3071)], ...],
    ] = Field(default_factory=dict)
    rule: tuple[RuleDoc, ...] = ()

    @field_validator("groups")
    @classmethod
    def _flat_groups(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, members in v.items():
            nested = next((m for m in members if m.startswith("group:")), None)
            if nested:
                raise ValueError(
                    f"group `{name}` contains {nested!r}: groups cannot contain groups; "
                    "list the members"
                )
        return v
