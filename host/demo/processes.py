"""The agent's host in the demo: the real ``airlock serve`` in its own process, and the
``airlock audit`` commands an auditor types afterwards."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from host.cli import audit
from host.cli.main import EXIT_USAGE
from host.errors import AirlockError

__all__ = ["ServeProcess", "airlock_audit", "records"]

# `airlock serve` stops within a second of SIGTERM (it disconnects and closes the sandbox);
# past this it is killed so a wedged host cannot keep the demo alive.
STOP_GRACE_S = 10.0


class ServeProcess:
    """``airlock serve --config FILE --log-json``, its JSON log written to ``log_file``."""

    def __init__(self, config: Path, log_file: Path, env: dict[str, str]) -> None:
        self.log_file = log_file
        self._log = log_file.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "host.cli.main", "serve", "--config", str(config), "--log-json"],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        """True while the process runs."""
        return self._proc.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait, kill if needed; returns the exit status. Safe to call twice."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=STOP_GRACE_S)
        self._log.close()
        return self._proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        """The end of the host's log, to explain a failure."""
        text = self.log_file.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def airlock_audit(*args: str) -> tuple[int, str]:
    """``airlock audit ARGS...`` as a deployer types it; (exit status, what it printed).

    Runs the real ``audit`` command group in this process: a fresh interpreter would spend
    seconds importing every model provider's SDK for a command that reads one file.
    """
    parser = argparse.ArgumentParser(prog="airlock")
    audit.register(parser.add_subparsers(dest="command", required=True))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            parsed = parser.parse_args(["audit", *args])
            status = int(parsed.func(parsed))
        except AirlockError as exc:
            print(f"airlock: error: {exc}")
            status = EXIT_USAGE
        except SystemExit as exc:  # argparse refusing the arguments
            status = int(exc.code or 0)
    return status, textwrap.dedent(printed.getvalue()).strip("\n")


def records(audit_log: Path) -> list[dict[str, Any]]:
    """The audit log's records as JSON objects (integrity is checked by ``airlock audit``)."""
    return [json.loads(line) for line in audit_log.read_text().splitlines() if line.strip()]
