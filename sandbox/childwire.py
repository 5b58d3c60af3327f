"""The sandbox processes' side of the protocol, in the standard library only.

The wire format has one definition: the pydantic models of :mod:`sandbox.protocol`. The
supervisor parses everything a sandbox process sends with those strict models (the trust
boundary is checked there). The sandbox processes (the cold child, the zygote and its run
children) do not import pydantic: it is about half of a cold start, and in the zygote a third
of the memory every run child copies on write. They decode the supervisor's Setup, Job and
HostReply into the frozen dataclasses below and encode their own messages as plain JSON.
tests/sandbox/test_childwire.py checks both directions against the models for every message
kind they send or read.

Decoding is still strict, so that a supervisor bug shows up as a clear error rather than a
silently different run: unknown fields, a wrong ``kind`` and wrongly typed values are refused
(:class:`~sandbox.framing.ProtocolError`); omitted fields take the models' defaults.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sandbox.framing import ProtocolError
from sandbox.harden.shapes import EnforcementFields
from sandbox.kinds import (
    DEFAULT_FUEL,
    DEFAULT_MAX_HOST_CALLS,
    DEFAULT_MAX_OUTPUT_KB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    LAYERS,
    Layer,
    Status,
)

# pydantic's ser_json_bytes="base64" writes the URL-safe alphabet.
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class LimitsFields(Protocol):
    """What the runtime reads of a run's limits (:class:`sandbox.spec.Limits`)."""

    @property
    def fuel(self) -> int: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def max_output_kb(self) -> int: ...
    @property
    def max_host_calls(self) -> int: ...


class PreopenFields(Protocol):
    """One preopened directory (:class:`sandbox.spec.Preopen`)."""

    @property
    def host_path(self) -> Path: ...
    @property
    def guest_path(self) -> str: ...
    @property
    def access(self) -> str: ...


class JobFields(Protocol):
    """What the runtime reads of a job (:class:`sandbox.protocol.Job` or :class:`PlainJob`)."""

    @property
    def module(self) -> bytes: ...
    @property
    def module_name(self) -> str: ...
    @property
    def artifact(self) -> bytes | None: ...
    @property
    def input(self) -> bytes: ...
    @property
    def args(self) -> tuple[str, ...]: ...
    @property
    def env(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def dirs(self) -> tuple[PreopenFields, ...]: ...
    @property
    def limits(self) -> LimitsFields: ...
    @property
    def host_calls(self) -> bool: ...


class SetupFields(Protocol):
    """What :func:`sandbox.child.plan_for` reads of a setup (the model or :class:`PlainSetup`)."""

    @property
    def ro_paths(self) -> tuple[str, ...]: ...
    @property
    def rw_paths(self) -> tuple[str, ...]: ...
    @property
    def limits(self) -> LimitsFields: ...
    @property
    def require(self) -> tuple[Layer, ...]: ...


@dataclass(frozen=True)
class PlainLimits:
    """:class:`sandbox.spec.Limits` as decoded by the child (same defaults)."""

    fuel: int = DEFAULT_FUEL
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_output_kb: int = DEFAULT_MAX_OUTPUT_KB
    max_host_calls: int = DEFAULT_MAX_HOST_CALLS


@dataclass(frozen=True)
class PlainPreopen:
    """:class:`sandbox.spec.Preopen` as decoded by the child."""

    host_path: Path
    guest_path: str
    access: str = "ro"


@dataclass(frozen=True)
class PlainSetup:
    """:class:`sandbox.protocol.Setup` as decoded by the child."""

    ro_paths: tuple[str, ...] = ()
    rw_paths: tuple[str, ...] = ()
    limits: PlainLimits = PlainLimits()
    require: tuple[Layer, ...] = ()


@dataclass(frozen=True)
class PlainJob:
    """:class:`sandbox.protocol.Job` as decoded by the child."""

    module: bytes
    module_name: str
    artifact: bytes | None = None
    input: bytes = b""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[PlainPreopen, ...] = ()
    limits: PlainLimits = PlainLimits()
    host_calls: bool = False


@dataclass(frozen=True)
class PlainDone:
    """How a run ended (:class:`sandbox.protocol.Done`), as the runtime reports it."""

    status: Status
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    fuel_used: int | None = None
    peak_memory_bytes: int | None = None
    error: str | None = None


# --- decoding (supervisor -> child) ----------------------------------------------------------


def _bad(where: str, what: str) -> ProtocolError:
    return ProtocolError(f"invalid frame from supervisor: {where}: {what}")


def _typed(value: object, kind: type | tuple[type, ...], where: str) -> Any:
    # bool is an int subclass; pydantic's strict JSON mode refuses true for an int, so do we.
    if isinstance(value, bool) and kind is not bool:
        raise _bad(where, f"expected {kind}, got a boolean")
    if not isinstance(value, kind):
        raise _bad(where, f"expected {kind}, got {type(value).__name__}")
    return value


def _bytes(value: object, where: str) -> bytes:
    text = _typed(value, str, where)
    try:
        return base64.b64decode(text.encode("ascii").translate(_FROM_URLSAFE), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _bad(where, "not base64") from None


def _strings(value: object, where: str) -> tuple[str, ...]:
    return tuple(_typed(item, str, where) for item in _typed(value, list, where))


def _fields(data: object, names: frozenset[str], where: str) -> Mapping[str, Any]:
    mapping: Mapping[str, Any] = _typed(data, dict, where)
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise _bad(where, f"unknown field {unknown[0]!r}")
    return mapping


def _limits(data: object) -> PlainLimits:
    names = frozenset(f.name for f in dataclasses.fields(PlainLimits))
    mapping = _fields(data, names, "limits")
    values = {
        name: _typed(mapping[name], (int, float) if name == "timeout_s" else int, f"limits.{name}")
        for name in names
        if name in mapping
    }
    return PlainLimits(**values)


def _preopen(data: object) -> PlainPreopen:
    mapping = _fields(data, frozenset(("host_path", "guest_path", "access")), "dirs")
    access = _typed(mapping.get("access", "ro"), str, "dirs.access")
    if access not in ("ro", "rw"):
        raise _bad("dirs.access", f"{access!r} is neither 'ro' nor 'rw'")
    return PlainPreopen(
        host_path=Path(_typed(mapping.get("host_path"), str, "dirs.host_path")),
        guest_path=_typed(mapping.get("guest_path"), str, "dirs.guest_path"),
        access=access,
    )


def _message(body: bytes, kind: str, names: frozenset[str]) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _bad("frame", "not JSON") from None
    mapping = _fields(data, names | {"kind"}, "frame")
    if mapping.get("kind") != kind:
        raise _bad("kind", f"expected {kind!r}, got {mapping.get('kind')!r}")
    return mapping


def decode_setup(body: bytes) -> PlainSetup:
    """The Setup frame body the supervisor sent (see :class:`sandbox.protocol.Setup`)."""
    m = _message(body, "setup", frozenset(("ro_paths", "rw_paths", "limits", "require")))
    require = _strings(m.get("require", []), "require")
    for layer in require:
        if layer not in LAYERS:
            raise _bad("require", f"unknown layer {layer!r}")
    return PlainSetup(
        ro_paths=_strings(m.get("ro_paths", []), "ro_paths"),
        rw_paths=_strings(m.get("rw_paths", []), "rw_paths"),
        limits=_limits(m.get("limits", {})),
        require=require,  # type: ignore[arg-type]  # each checked against LAYERS above
    )


_JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(PlainJob))


def decode_job(body: bytes) -> PlainJob:
    """The Job frame body the supervisor sent (see :class:`sandbox.protocol.Job`)."""
    m = _message(body, "job", _JOB_FIELDS)
    artifact = m.get("artifact")
    env = []
    for pair in _typed(m.get("env", []), list, "env"):
        name, value = _strings(pair, "env")
        env.append((name, value))
    return PlainJob(
        module=_bytes(m.get("module"), "module"),
        module_name=_typed(m.get("module_name"), str, "module_name"),
        artifact=None if artifact is None else _bytes(artifact, "artifact"),
        input=_bytes(m.get("input", ""), "input"),
        args=_strings(m.get("args", []), "args"),
        env=tuple(env),
        dirs=tuple(_preopen(d) for d in _typed(m.get("dirs", []), list, "dirs")),
        limits=_limits(m.get("limits", {})),
        host_calls=_typed(m.get("host_calls", False), bool, "host_calls"),
    )


def decode_host_reply(body: bytes) -> bytes:
    """The reply bytes of a HostReply frame body (see :class:`sandbox.protocol.HostReply`)."""
    return _bytes(_message(body, "host_reply", frozenset(("reply",))).get("reply"), "reply")


# --- encoding (child -> supervisor, validated there by sandbox.protocol) -----------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def enforcement_fields(enforcement: EnforcementFields) -> dict[str, object]:
    """The Ready report as the wire carries it (one key per :class:`EnforcementFields` field)."""
    return {
        "landlock_abi": enforcement.landlock_abi,
        "landlock_rules": enforcement.landlock_rules,
        "no_new_privs": enforcement.no_new_privs,
        "capabilities_dropped": enforcement.capabilities_dropped,
        "seccomp": enforcement.seccomp,
        "seccomp_denied": enforcement.seccomp_denied,
        "rlimits": enforcement.rlimits,
        "notes": enforcement.notes,
    }


def ready(enforcement: EnforcementFields) -> bytes:
    """A Ready frame body carrying what the kernel enforced."""
    return _json({"kind": "ready", "enforcement": enforcement_fields(enforcement)})


def compiled(artifact: bytes) -> bytes:
    """A Compiled frame body (a fresh artifact for the supervisor's cache)."""
    return _json({"kind": "compiled", "artifact": _b64(artifact)})


def host_call(request: bytes) -> bytes:
    """A HostCall frame body."""
    return _json({"kind": "host_call", "request": _b64(request)})


def done(result: PlainDone) -> bytes:
    """A Done frame body."""
    # Field by field: dataclasses.asdict deep-copies every value first.
    return _json(
        {
            "kind": "done",
            "status": result.status.value,
            "exit_code": result.exit_code,
            "stdout": _b64(result.stdout),
            "stderr": _b64(result.stderr),
            "fuel_used": result.fuel_used,
            "peak_memory_bytes": result.peak_memory_bytes,
            "error": result.error,
        }
    )


def failed(error: str, *, hardening: bool) -> bytes:
    """A Failed frame body."""
    return _json({"kind": "failed", "error": error, "hardening": hardening})


def zygote_ready(enforcement: EnforcementFields, pid: int) -> bytes:
    """The zygote's ZygoteReady frame body (its base layers)."""
    report = enforcement_fields(enforcement)
    return _json({"kind": "zygote_ready", "enforcement": report, "pid": pid})


def forked(pid: int) -> bytes:
    """The zygote's Forked frame body: its next run child."""
    return _json({"kind": "forked", "pid": pid})


def reaped(pid: int, wait_status: int, maxrss_kb: int) -> bytes:
    """The zygote's Reaped frame body: how that run child ended."""
    return _json({"kind": "reaped", "pid": pid, "wait_status": wait_status, "maxrss_kb": maxrss_kb})


def _json(message: dict[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8")
