"""The effective grant: exactly what one sandboxed run gets.

A grant only ever comes from policy, narrowed by what the skill's manifest declares (the
intersection of both, see :func:`host.policy.intersect.effective_grant`). The sandbox receives
a grant turned into a :class:`sandbox.spec.RunSpec` by :meth:`Grant.run_spec`; nothing else
reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.spec import Limits, Preopen, RunSpec

Access = Literal["ro", "rw"]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class DirGrant(BaseModel):
    """A host directory the module sees at ``guest_path``; ``name`` is the manifest's label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    host_path: Path
    guest_path: str
    access: Access = "ro"


class HttpGrant(BaseModel):
    """Outbound HTTP the broker may perform for the module (never the module itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str  # exact host name, or "*.example.org" for its subdomains
    methods: frozenset[HttpMethod] = frozenset({"GET"})
    max_request_kb: Annotated[int, Field(gt=0, le=10_240)] = 64
    max_response_kb: Annotated[int, Field(gt=0, le=65_536)] = 1024
    # Loopback and private addresses are refused unless the policy says so, by this name.
    unsafe_allow_private: bool = False


class Grant(BaseModel):
    """What one run may use. Empty by default: default deny."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dirs: tuple[DirGrant, ...] = ()
    http: tuple[HttpGrant, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()  # names only; values are injected by the broker
    limits: Limits = Limits()

    def run_spec(
        self, module: Path, *, input: bytes, expected_sha256: str | None, args: tuple[str, ...] = ()
    ) -> RunSpec:
        """The sandbox run this grant allows for ``module`` with ``input`` on stdin."""
        return RunSpec(
            module=module,
            expected_sha256=expected_sha256,
            input=input,
            args=args,
            env=self.env,
            dirs=tuple(
                Preopen(host_path=d.host_path, guest_path=d.guest_path, access=d.access)
                for d in self.dirs
            ),
            limits=self.limits,
        )
