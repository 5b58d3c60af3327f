"""The one interface every subsystem uses to write to the audit log.

Subsystems (the broker, confirmations, the agent) depend on this protocol, not on the log's
implementation, so tests can hand them a small in-memory sink. ``record`` must only return once
the event is durable: if it cannot be written it raises :class:`host.errors.AuditError`, and the
caller must not perform the action the event describes (write-ahead, design invariant 6).
"""

from __future__ import annotations

from typing import Protocol

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class AuditSink(Protocol):
    """Somewhere audit events go. Never pass secrets or full outputs in ``data``."""

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        """Append one event durably; return its record hash. Raises AuditError on failure."""
        ...
