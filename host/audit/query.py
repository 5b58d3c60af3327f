"""Selecting records for ``airlock audit show``: by request, requester, skill, decision, time.

Requester and skill are recorded once per request (in ``request.received``), and the decision
once (in ``policy.decision``); filtering on them selects whole requests, so every record of a
matching request is shown, in log order. ``show`` reads; it does not verify (run ``verify``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.audit.verify import iter_records
from host.errors import AuditError

__all__ = ["RecordFilter", "select"]


@dataclass(frozen=True)
class RecordFilter:
    """Conditions a record must meet; None means "any". Times compare as ISO 8601 text (UTC)."""

    requester: str | None = None
    skill: str | None = None
    decision: str | None = None
    since: str | None = None
    until: str | None = None
    request_id: str | None = None

    def request_ids(self, records: Sequence[dict[str, Any]]) -> set[str] | None:
        """Ids of the requests that match requester, skill and decision (None: no such filter)."""
        sets: list[set[str]] = []
        if self.requester is not None or self.skill is not None:
            sets.append(
                {
                    str(r.get("request_id"))
                    for r in records
                    if r.get("event") == "request.received"
                    and self.requester in (None, (r.get("data") or {}).get("requester"))
                    and self.skill in (None, (r.get("data") or {}).get("skill"))
                }
            )
        if self.decision is not None:
            sets.append(
                {
                    str(r.get("request_id"))
                    for r in records
                    if r.get("event") == "policy.decision"
                    and (r.get("data") or {}).get("effect") == self.decision
                }
            )
        return set.intersection(*sets) if sets else None


def _load(files: Sequence[Path]) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    for path, number, raw in iter_records(files):
        try:
            doc = json.loads(raw)
        except ValueError:
            raise AuditError(
                f"{path}:{number}: not a JSON record",
                hint=f"run `airlock audit verify {path}` to find out what happened",
            ) from None
        if isinstance(doc, dict):
            yield path, number, doc


def select(files: Sequence[Path], wanted: RecordFilter) -> list[dict[str, Any]]:
    """The records of ``files`` that ``wanted`` selects, in log order."""
    records = [record for _, _, record in _load(files)]
    keep_requests = wanted.request_ids(records)
    out = []
    for record in records:
        when = str(record.get("time", ""))
        if wanted.since is not None and when < wanted.since:
            continue
        if wanted.until is not None and when > wanted.until:
            continue
        rid = record.get("request_id")
        if wanted.request_id is not None and rid != wanted.request_id:
            continue
        if keep_requests is not None and rid not in keep_requests:
            continue
        out.append(record)
    return out
