"""``airlock audit``: verify a log series, show its records, print its head for anchoring."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from host.audit.log import checkpoint_path, rotated_files
from host.audit.query import RecordFilter, select
from host.audit.verify import Anchor, read_anchor, verify_series
from host.errors import AuditError

EXIT_OK, EXIT_BAD = 0, 1
_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _series(files: list[Path]) -> list[Path]:
    """One path with rotated siblings means the whole series; several paths are taken as given."""
    if len(files) == 1:
        return [*rotated_files(files[0]), files[0]]
    return files


def _verify(args: argparse.Namespace) -> int:
    files = _series(args.files)
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise AuditError(f"no such audit file: {', '.join(missing)}")
    checkpoint = None
    if not args.no_checkpoint:
        try:
            checkpoint = read_anchor(args.checkpoint or checkpoint_path(files[-1]))
        except ValueError as exc:
            print(f"FAIL {exc}")
            return EXIT_BAD
    anchors = []
    for text in args.anchor or ():
        match = _ANCHOR.match(text)
        if not match:
            raise AuditError(f"--anchor {text!r} is not SEQ:HASH (e.g. 41:9f2c...)")
        anchors.append(Anchor(int(match.group(1)), match.group(2), "--anchor"))
    report = verify_series(files, checkpoint=checkpoint, anchors=anchors, partial=args.partial)
    if report.problem is not None:
        print(f"FAIL {report.problem}")
        print(f"     {report.records} records verified before it")
        return EXIT_BAD
    where = "checkpoint" if checkpoint else "no checkpoint (tail cuts are not detectable)"
    print(
        f"OK {report.records} records in {len(files)} file(s); head seq {report.head_seq} "
        f"hash {report.head_hash}; {where}"
    )
    return EXIT_OK


def _summary(record: dict[str, Any]) -> str:
    data = record.get("data") or {}
    keys = ("skill", "requester", "effect", "rule", "status", "reason", "error")
    if not isinstance(data, dict):
        return ""
    return " ".join(f"{k}={data[k]}" for k in keys if data.get(k) is not None)


def _show(args: argparse.Namespace) -> int:
    wanted = RecordFilter(
        requester=args.requester,
        skill=args.skill,
        decision=args.decision,
        since=args.since,
        until=args.until,
        request_id=args.request_id,
    )
    for record in select(_series([args.file]), wanted):
        if args.json:
            print(json.dumps(record, sort_keys=True))
        else:
            print(
                f"{record.get('seq'):>6} {record.get('time')} {record.get('event'):<18} "
                f"{record.get('request_id') or '-'} {_summary(record)}".rstrip()
            )
    return EXIT_OK


def _head(args: argparse.Namespace) -> int:
    files = _series([args.file])
    report = verify_series(files, partial=True)
    if report.problem is not None:
        print(f"FAIL {report.problem}", file=sys.stderr)
        return EXIT_BAD
    print(f"{report.head_seq}:{report.head_hash}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``airlock audit {verify,show,head}``."""
    parser = subparsers.add_parser("audit", help="verify and read the audit log")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = sub.add_parser(
        "verify",
        help="check every record, link and the head; name the first bad record",
        description="Verify an audit series. One FILE includes its rotated files (FILE.000001...)"
        "; several FILEs are checked in the order given. Exit 0 when intact, 1 otherwise.",
    )
    verify.add_argument("files", nargs="+", type=Path, metavar="FILE")
    verify.add_argument("--checkpoint", type=Path, help="head file (default FILE.head)")
    verify.add_argument("--no-checkpoint", action="store_true", help="do not check the head")
    verify.add_argument(
        "--anchor",
        action="append",
        metavar="SEQ:HASH",
        help="a head published elsewhere earlier (repeatable)",
    )
    verify.add_argument(
        "--partial",
        action="store_true",
        help="the series starts after seq 0 (older files archived)",
    )
    verify.set_defaults(func=_verify)

    show = sub.add_parser("show", help="print records, filtered")
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--requester", metavar="JID")
    show.add_argument("--skill", metavar="NAME")
    show.add_argument("--decision", choices=["allow", "confirm", "deny"])
    show.add_argument("--since", metavar="TIME", help="ISO 8601 UTC, e.g. 2026-01-02T10:00")
    show.add_argument("--until", metavar="TIME")
    show.add_argument("--request-id", metavar="ID")
    show.add_argument("--json", action="store_true", help="one JSON record per line")
    show.set_defaults(func=_show)

    head = sub.add_parser("head", help="print SEQ:HASH of the last record, to publish elsewhere")
    head.add_argument("file", type=Path, metavar="FILE")
    head.set_defaults(func=_head)
