"""``airlock serve --config FILE``: run the agent on XMPP until stopped (SIGINT or SIGTERM).

Exit status: 0 after a requested stop, 2 for a configuration error or when the server refuses
the connection in a way retrying cannot fix (no STARTTLS, SASL failure, wrong component secret).
Until a policy-backed gateway is configured the agent offers no skills (every call is denied).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from host.agent.actions import NoActionsGateway
from host.config import load_config
from host.errors import XmppError
from host.llm.factory import make_provider
from host.xmpp.service import AgentService

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


async def _serve(config: Any) -> int:
    service = AgentService.from_config(
        config, gateway=NoActionsGateway(), provider=make_provider(config.llm)
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
