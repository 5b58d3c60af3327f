"""``airlock serve --config FILE``: run the agent on XMPP until stopped (SIGINT or SIGTERM).

Exit status: 0 after a requested stop, 2 for a configuration error or when the server refuses
the connection in a way retrying cannot fix (no STARTTLS, SASL failure, wrong component secret).

The capability path is the real one, built from ``[airlock]``: the policy engine over
``policy_dir``, the skills in ``skills_dir``, the hash-chained audit log at ``audit_path``, the
confirmation store at ``confirm_path``, a warm sandbox, and the pipeline behind a
:class:`~host.gateway.PolicyGateway`; confirmation prompts go to approvers over the same XMPP
stream. Only ``[airlock] actions = false`` serves without it (chat only, every tool call refused).
A policy, skill or audit problem stops the start with exit status 2 and the reason.
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
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import JID

from host.agent.actions import ActionGateway, NoActionsGateway, PendingLister
from host.audit.log import AuditLog
from host.config import Config, load_config
from host.confirm import ConfirmationService, ConfirmationStore
from host.errors import XmppError
from host.gateway import PolicyGateway, XmppConfirmer
from host.llm.factory import make_provider
from host.pipeline import Pipeline
from host.policy.engine import PolicyEngine
from host.skills.registry import SkillRegistry
from host.xmpp.connection import AirlockClient
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


class StreamNotifier:
    """The confirmer's :class:`~host.gateway.Notifier` over the service's own XMPP stream.

    Each prompt is one chat message: the plain body for any client, plus the ``<confirm/>``
    element and its form for clients that understand them.
    """

    def __init__(self) -> None:
        self.stream: Any = None  # set once the service (which owns the stream) exists

    async def send(self, to_jid: str, body: str, confirm: Element, form: Element) -> None:
        """Send the prompt; raises XmppError before the stream is attached."""
        if self.stream is None:
            raise XmppError("confirmation prompt sent before the XMPP stream exists")
        extra = {} if isinstance(self.stream, AirlockClient) else {"mfrom": self.stream.boundjid}
        msg = self.stream.make_message(mto=JID(to_jid), mbody=body, mtype="chat", **extra)
        msg.xml.append(confirm)
        msg.xml.append(form)
        msg.send()


@contextmanager
def capability_path(
    config: Config, notifier: StreamNotifier, loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[ActionGateway, PendingLister | None]]:
    """The gateway (and ``/pending`` lister) ``config`` asks for; closes what it opened.

    Everything is loaded before the first connection, so a broken policy, an unbuilt skill or
    an unwritable audit log stops the start instead of surfacing at the first request.
    """
    paths = config.airlock
    if not paths.actions:
        yield NoActionsGateway(), None
        return
    engine = PolicyEngine.from_dir(paths.policy_dir)
    registry = SkillRegistry.load(paths.skills_dir)
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
        yield gateway, gateway


async def _serve(config: Config) -> int:
    notifier = StreamNotifier()
    with capability_path(config, notifier, asyncio.get_running_loop()) as (gateway, pending):
        return await _serve_with(config, gateway, pending, notifier)


async def _serve_with(
    config: Config,
    gateway: ActionGateway,
    pending: PendingLister | None,
    notifier: StreamNotifier,
) -> int:
    service = AgentService.from_config(
        config, gateway=gateway, provider=make_provider(config.llm), pending=pending
    )
    notifier.stream = service.stream
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
