"""``airlock serve --config FILE``: run the agent on XMPP until stopped (SIGINT or SIGTERM).

Exit status: 0 after a requested stop, 2 for a configuration error or when the server refuses
the connection in a way retrying cannot fix (no STARTTLS, SASL failure, wrong component secret).

The capability path is the real one, built from ``[airlock]``: the policy engine over
``policy_dir``, the skills in ``skills_dir``, the hash-chained audit log at ``audit_path``, the
confirmation store at ``confirm_path``, a warm sandbox, and the pipeline behind a
:class:`~host.gateway.PolicyGateway`; confirmation prompts go to approvers over the same XMPP
stream, and the agent protocol (``#skills``, ``#execute``, confirmation answers as stanzas)
is served on it too. Only ``[airlock] actions = false`` serves without it (chat only, every
tool call refused).
A policy, skill or audit problem stops the start with exit status 2 and the reason.

On a stop, the XMPP stream is closed first, then the gateway's worker threads, the warm
sandbox's zygote processes, the confirmation store and the audit log: serve leaves no child
process behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from host.agent.actions import ActionGateway, NoActionsGateway
from host.audit.log import AuditLog
from host.config import Config, load_config
from host.confirm import ConfirmationService, ConfirmationStore
from host.errors import SkillError, XmppError
from host.gateway import Notifier, PolicyGateway, XmppConfirmer
from host.llm.factory import make_provider
from host.pipeline import Pipeline
from host.policy.engine import PolicyEngine
from host.protocol import ConfirmationRouter, ProtocolHandlers
from host.protocol.notify import StreamNotifier
from host.skills.registry import SkillRegistry
from host.xmpp.service import AgentService
from sandbox.supervisor import Sandbox

__all__ = ["register"]


class JsonFormatter(logging.Formatter):
    """One JSON object per log event, with the ``extra`` fields (ids, reasons) kept."""

    RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self.RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def register(subparsers: Any) -> None:
    """Add ``serve``."""
    parser = subparsers.add_parser("serve", help="run the agent on XMPP")
    parser.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    parser.add_argument("--verbose", action="store_true", help="log debug details")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration, connect, serve until a signal."""
    config = load_config(args.config)
    handler = logging.StreamHandler(sys.stderr)
    if args.log_json:
        handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    return asyncio.run(_serve(config))


class LateNotifier:
    """The confirmer's :class:`~host.gateway.Notifier`, bound to the stream once it exists.

    The capability path is built before the service that owns the XMPP stream (which needs the
    gateway); prompts only flow after the connection, by which time :meth:`bind` was called.
    """

    def __init__(self) -> None:
        self._notifier: Notifier | None = None

    def bind(self, stream: Any) -> None:
        """Send prompts from ``stream`` (the service's component or client stream)."""
        self._notifier = StreamNotifier(stream)

    async def send(self, to_jid: str, body: str, confirm: Element, form: Element) -> None:
        """Send one prompt; XmppError if no stream is bound yet."""
        if self._notifier is None:
            raise XmppError("a confirmation prompt was sent before the XMPP stream existed")
        await self._notifier.send(to_jid, body, confirm, form)


@dataclass(frozen=True)
class CapabilityPath:
    """What ``airlock serve`` hands to the XMPP edge; all None with ``actions = false``."""

    gateway: PolicyGateway | None = None
    router: ConfirmationRouter | None = None


def check_built(engine: PolicyEngine, registry: SkillRegistry) -> None:
    """Raise SkillError naming every skill the policy could run that has no valid build.

    Found at start, an unbuilt skill is one command to fix; found at a request, it is a failed
    action in front of a user.
    """
    runnable = [r for r in engine.policy.rules if r.effect != "deny"]
    problems = []
    for skill in registry:
        if any(r.skill_matches(skill.name) for r in runnable):
            try:
                skill.expected_sha256()
            except SkillError as exc:
                problems.append(f"{skill.name}: {exc.message}")
    if problems:
        raise SkillError(
            "skills the policy allows are not built: " + "; ".join(problems),
            hint=f"run `airlock skill build {registry.root}`",
        )


@contextmanager
def capability_path(
    config: Config, notifier: Notifier, loop: asyncio.AbstractEventLoop
) -> Iterator[CapabilityPath]:
    """The capability path ``config`` asks for; closes what it opened on exit.

    Everything is loaded before the first connection, so a broken policy, a skill the policy
    allows that is not built, or an unwritable audit log stops the start instead of surfacing
    at the first request.
    """
    paths = config.airlock
    if not paths.actions:
        yield CapabilityPath()
        return
    engine = PolicyEngine.from_dir(paths.policy_dir)
    registry = SkillRegistry.load(paths.skills_dir)
    check_built(engine, registry)
    with ExitStack() as stack:
        paths.audit_path.parent.mkdir(parents=True, exist_ok=True)
        paths.confirm_path.parent.mkdir(parents=True, exist_ok=True)
        audit = stack.enter_context(AuditLog(paths.audit_path))
        store = ConfirmationStore(paths.confirm_path)
        stack.callback(store.close)
        confirmations = ConfirmationService(store, audit)
        box = stack.enter_context(Sandbox())
        confirmer = XmppConfirmer(confirmations, notifier, loop)
        pipeline = Pipeline(engine, registry, audit, confirmer=confirmer, runner=box.run)
        gateway = PolicyGateway(pipeline, engine, confirmations=confirmations)
        # Closed first (the stack unwinds backwards): no request starts once the sandbox's
        # zygotes, the confirmation store and the audit log are being shut.
        stack.callback(gateway.close)
        yield CapabilityPath(gateway, ConfirmationRouter(confirmations))


async def _serve(config: Config) -> int:
    notifier = LateNotifier()
    with capability_path(config, notifier, asyncio.get_running_loop()) as path:
        return await _serve_with(config, path, notifier)


async def _serve_with(config: Config, path: CapabilityPath, notifier: LateNotifier) -> int:
    gateway: ActionGateway = path.gateway or NoActionsGateway()
    service = AgentService.from_config(
        config, gateway=gateway, provider=make_provider(config.llm), pending=path.gateway
    )
    notifier.bind(service.stream)
    if path.gateway is not None:
        service.confirmations = path.router
        ProtocolHandlers(path.gateway, path.router, allows=service.access.allows).register(
            service.stream
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    service.start()
    stopped = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(service.failed.wait())
    await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    failed.cancel()
    await service.stop()
    if service.fatal:
        raise XmppError(f"cannot serve: {service.fatal}")
    return 0
