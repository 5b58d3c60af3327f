"""A real capability path for gateway and protocol tests: shipped skills, a policy written in
the test's tmp_path, a real audit log, a real confirmation store and the real sandbox.

The skills are the tree's own builds when present, else copies built in a temporary folder.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.confirm import ConfirmationService, ConfirmationStore, Settings
from host.confirm.service import utc_now
from host.errors import AirlockError
from host.gateway import PolicyGateway, XmppConfirmer
from host.pipeline import Pipeline, Runner
from host.policy.engine import PolicyEngine
from host.skills.broker import SecretsProvider
from host.skills.build import build
from host.skills.registry import SkillRegistry

REPO = Path(__file__).resolve().parents[2]
# fs_read to web_search: for the injection attacks of tests/security/test_injection_e2e.py
SKILLS = (
    "echo",
    "fs_delete",
    "calc",
    "fs_list",
    "fs_read",
    "fs_write",
    "http_fetch",
    "web_search",
)
ALICE, BOB, CAROL, MALLORY = (f"{u}@localhost" for u in ("alice", "bob", "carol", "mallory"))

POLICY = f"""
[[rule]]
id = "echo"
skills = ["echo"]
requesters = ["{ALICE}", "{BOB}", "{CAROL}"]
effect = "allow"
[rule.args.text]
max_length = 100
[rule.rate]
per_minute = 6000
burst = 1000

[[rule]]
id = "calc-alice"
skills = ["calc"]
requesters = ["{ALICE}"]
effect = "allow"
[rule.rate]
per_minute = 0.001
burst = 2

[[rule]]
id = "list"
skills = ["fs.list"]
requesters = ["{ALICE}"]
effect = "allow"
[rule.grant.dirs.workspace]
path = "WORKSPACE"
access = "ro"

[[rule]]
id = "delete"
skills = ["fs.delete"]
requesters = ["{ALICE}"]
effect = "confirm"
[rule.confirm]
approvers = ["{BOB}", "{CAROL}"]
required = 1
expires_s = 60
[rule.grant.dirs.workspace]
path = "WORKSPACE"
access = "rw"
"""


def _registry(root: Path) -> SkillRegistry:
    """The shipped skills we use, built (the tree's build if it is there)."""
    try:
        found = SkillRegistry.load(REPO / "skills_wasm")
        for skill in found:
            if skill.folder.name in SKILLS:
                skill.expected_sha256()
        subset = root / "tree"
        subset.mkdir()
        for name in SKILLS:
            (subset / name).symlink_to(REPO / "skills_wasm" / name)
        return SkillRegistry.load(subset)
    except AirlockError:
        pass
    built = root / "built"
    for name in SKILLS:
        shutil.copytree(
            REPO / "skills_wasm" / name,
            built / name,
            ignore=shutil.ignore_patterns("build", "target"),
        )
        try:
            build(built / name)
        except AirlockError as exc:
            pytest.skip(f"cannot build the skill {name}: {exc}")
    return SkillRegistry.load(built)


@contextmanager
def shared_parts() -> Iterator[tuple[SkillRegistry, Runner]]:
    """The registry and one warm sandbox (for a module or a session)."""
    from sandbox.supervisor import Sandbox

    with tempfile.TemporaryDirectory(prefix="airlock-gw-") as tmp, Sandbox() as box:
        yield _registry(Path(tmp)), box.run


@dataclass
class Prompts:
    """A :class:`host.gateway.Notifier` that keeps what it was asked to send."""

    sent: asyncio.Queue[tuple[str, str, ET.Element, ET.Element]] = field(
        default_factory=asyncio.Queue
    )

    async def send(self, to_jid: str, body: str, confirm: ET.Element, form: ET.Element) -> None:
        await self.sent.put((to_jid, body, confirm, form))

    async def next(self) -> tuple[str, str, ET.Element, ET.Element]:
        return await asyncio.wait_for(self.sent.get(), 15)


@dataclass
class World:
    """Everything one test needs; built inside the running loop."""

    gateway: PolicyGateway
    service: ConfirmationService
    pipeline: Pipeline
    engine: PolicyEngine
    audit: AuditLog
    workspace: Path
    db: Path
    audit_path: Path

    def events(self) -> list[str]:
        import json

        return [json.loads(line)["event"] for line in self.audit_path.read_text().splitlines()]


@contextmanager
def world(
    tmp_path: Path,
    parts: tuple[SkillRegistry, Runner],
    notifier: object,
    *,
    policy: str = POLICY,
    clock: Callable[..., object] = utc_now,
    settings: Settings | None = None,
    db: Path | None = None,
    audit_name: str = "audit.jsonl",
    secrets: SecretsProvider | None = None,
) -> Iterator[World]:
    """Build the path on the running loop; close the audit log and the store after.

    ``secrets`` is what the broker injects into granted skills' requests (none by default)."""
    registry, runner = parts
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "main.toml").write_text(policy.replace("WORKSPACE", str(workspace)))
    engine = PolicyEngine.from_dir(policies)
    with ExitStack() as stack:
        audit_path = tmp_path / audit_name
        audit = stack.enter_context(AuditLog(audit_path))
        db = db or tmp_path / "confirm.sqlite"
        store = ConfirmationStore(db)
        stack.callback(store.close)
        service = ConfirmationService(store, audit, settings=settings, clock=clock)  # type: ignore[arg-type]
        confirmer = XmppConfirmer(service, notifier, asyncio.get_running_loop())  # type: ignore[arg-type]
        pipeline = Pipeline(
            engine, registry, audit, confirmer=confirmer, runner=runner, secrets=secrets
        )
        gateway = PolicyGateway(pipeline, engine, confirmations=service)
        stack.callback(gateway.close)
        yield World(gateway, service, pipeline, engine, audit, workspace, db, audit_path)
