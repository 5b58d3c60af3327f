"""The security suite's report: what was attacked, what held, what leaked, which threats are proven.

Every test in a ``test_*.py`` module under this folder is an attack on one of Airlock's defences,
except the threat-table checker (:data:`NOT_ATTACKS`) and this harness's own ``test_harness_*.py``
(they check the threat model and the report, not a defence). After the run, pytest prints a short
report:

- attacks tried: security tests selected to run (after ``-k``/``-m`` deselection);
- blocked: attacks whose test passed, i.e. the defence held;
- leaked: attacks whose test failed (must be zero; the run fails anyway);
- errors: attacks that could not give an answer (a fixture or import broke);
- skipped: attacks that could not run here, each with its reason (a missing kernel feature, a
  missing toolchain), so an auditor sees what this machine did *not* prove;
- threat rows covered: rows of ``threat-model/threats/*.md`` whose named tests all ran and passed.

If the environment variable ``AIRLOCK_SECURITY_REPORT`` names a file, the same report is written
there as JSON (see :func:`build_report` for its keys) for CI to archive or gate on. The report
appears only when a security module was collected: the whole suite prints it once at the end,
another folder alone prints nothing.

Threat rows are read with the same rules as ``test_threat_model.py``: a table line with six cells
whose first cell is an id like ``T-SBX-01``; its last cell names ``tests/...py::test_name``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPORT_ENV = "AIRLOCK_SECURITY_REPORT"
PLUGIN_NAME = "airlock-security-report"
# Modules in this folder that are not attacks: the threat-table checker and this harness's tests.
NOT_ATTACKS = frozenset({"test_threat_model.py"})
HARNESS_PREFIX = "test_harness_"  # this harness's own tests (report plugin, README index)
THREATS_DIR = Path("threat-model") / "threats"  # relative to pytest's rootdir
ROW_ID = re.compile(r"^T-[A-Z]{3}-\d{2}$")
NODE = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
HERE = Path(__file__).resolve().parent
# Uncovered rows listed per status on the terminal; the JSON report always lists all of them.
MAX_IDS_SHOWN = 12

# What a test proved, worst first. A test's outcome is the worst of its phases (setup, call,
# teardown); a threat row's is the worst over every instance of every test it names. "not run"
# is a named test missing from a module this session collected (deselected, or the session
# stopped early); "outside this run" is a named test whose module was not collected at all
# (``make security`` runs tests/security only, and some rows are proven by unit tests elsewhere).
LEAKED, ERROR, NOT_RUN, OUTSIDE, SKIPPED, XFAILED, BLOCKED = (
    "leaked",
    "error",
    "not run",
    "outside this run",
    "skipped",
    "known gap",
    "blocked",
)
RANK = {LEAKED: 0, ERROR: 1, NOT_RUN: 2, OUTSIDE: 3, SKIPPED: 4, XFAILED: 5, BLOCKED: 6}


@dataclass
class Outcome:
    """One collected test instance and what became of it."""

    file: str  # relative to rootdir, with forward slashes, as threat rows name it
    function: str  # the test function's name, without parameters
    attack: bool  # counted in the report's totals (a security module, not a harness one)
    outcome: str = NOT_RUN
    reason: str = ""

    def fold(self, outcome: str, reason: str) -> None:
        """Keep the worse of the current and the new outcome (any result beats "not run")."""
        if self.outcome == NOT_RUN or RANK[outcome] < RANK[self.outcome]:
            self.outcome, self.reason = outcome, reason


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _failure_line(report: pytest.CollectReport | pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", None) or report.longrepr or "").strip()
    return text.splitlines()[0] if text else "failed"


def threat_rows(rootpath: Path) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(table file, row id, named (file, test) pairs) for every row of every threat table."""
    rows = []
    for path in sorted((rootpath / THREATS_DIR).glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and ROW_ID.match(cells[0]):
                rows.append((path.name, cells[0], NODE.findall(cells[5])))
    return rows


def row_status(tests: list[tuple[str, str]], outcomes: list[Outcome]) -> str:
    """``"covered"`` only if every test the row names ran and every instance of it passed;
    otherwise the worst outcome among them (see :data:`RANK`)."""
    if not tests:
        return "names no test"
    collected = {o.file for o in outcomes}
    worst = BLOCKED
    for file, function in tests:
        mine = [o.outcome for o in outcomes if o.file == file and o.function == function]
        missing = NOT_RUN if file in collected else OUTSIDE
        worst = min([worst, *(mine or [missing])], key=RANK.__getitem__)
    return "covered" if worst == BLOCKED else worst


def build_report(
    rootpath: Path, outcomes: dict[str, Outcome], uncollectable: dict[str, str]
) -> dict[str, Any]:
    """The report as a JSON-ready dict.

    Keys: ``attacks_tried``, ``blocked``, ``leaked``, ``errors``, ``skipped``, ``known_gaps``,
    ``not_run`` (counts); ``leaked_tests``, ``error_tests``, ``skipped_tests``,
    ``known_gap_tests`` (node id -> reason); ``threat_rows`` with ``total``, ``covered`` and
    ``rows`` (``id``, ``table``, ``status``). The JSON file adds ``pytest_exit_status``.
    """
    attacks = {nid: o for nid, o in outcomes.items() if o.attack}
    by = {k: {nid: o.reason for nid, o in attacks.items() if o.outcome == k} for k in RANK}
    rows = [
        {"id": row_id, "table": table, "status": row_status(tests, list(outcomes.values()))}
        for table, row_id, tests in threat_rows(rootpath)
    ]
    return {
        "attacks_tried": len(attacks),
        "blocked": len(by[BLOCKED]),
        "leaked": len(by[LEAKED]),
        "errors": len(by[ERROR]) + len(uncollectable),
        "skipped": len(by[SKIPPED]),
        "known_gaps": len(by[XFAILED]),
        "not_run": len(by[NOT_RUN]),
        "leaked_tests": by[LEAKED],
        "error_tests": by[ERROR] | uncollectable,
        "skipped_tests": by[SKIPPED],
        "known_gap_tests": by[XFAILED],
        "threat_rows": {
            "total": len(rows),
            "covered": sum(r["status"] == "covered" for r in rows),
            "rows": rows,
        },
    }


def print_report(terminal: Any, report: dict[str, Any]) -> None:
    """Write ``report`` to pytest's terminal: counts first, then what needs a reader's eye."""
    write = terminal.write_line
    terminal.write_sep("=", "airlock security report")
    write(f"attacks tried  {report['attacks_tried']}")
    write(f"blocked        {report['blocked']}")
    write(f"leaked         {report['leaked']}", red=bool(report["leaked"]))
    for nid, why in report["leaked_tests"].items():
        write(f"  {nid}: {why}", red=True)
    if report["errors"]:
        write(f"errors         {report['errors']} (no answer either way)", red=True)
        for nid, why in report["error_tests"].items():
            write(f"  {nid}: {why}")
    write(f"skipped        {report['skipped']}")
    for nid, why in report["skipped_tests"].items():
        write(f"  {nid}: {why}")
    if report["known_gaps"]:
        write(f"known gaps     {report['known_gaps']} (xfail)", yellow=True)
        for nid, why in report["known_gap_tests"].items():
            write(f"  {nid}: {why}")
    if report["not_run"]:
        write(f"not run        {report['not_run']} (session stopped early)")
    rows = report["threat_rows"]
    write(f"threat rows    {rows['covered']}/{rows['total']} covered (every named test passed)")
    by_status: dict[str, list[str]] = {}
    for row in rows["rows"]:
        if row["status"] != "covered":
            by_status.setdefault(row["status"], []).append(row["id"])
    for status, ids in by_status.items():
        shown = ", ".join(ids[:MAX_IDS_SHOWN])
        more = f" and {len(ids) - MAX_IDS_SHOWN} more" if len(ids) > MAX_IDS_SHOWN else ""
        write(f"  {status}: {shown}{more}")


class SecurityReport:
    """The pytest plugin that watches one session; :func:`pytest_configure` registers it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, Outcome] = {}  # every selected test, by node id
        self.uncollectable: dict[str, str] = {}  # security module node id -> why it did not run
        self.seen = False  # a security module was collected at all

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.config.rootpath.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    @staticmethod
    def _is_attack(path: Path) -> bool:
        if not path.resolve().is_relative_to(HERE):
            return False
        name = path.name
        return (
            name.startswith("test_")
            and name.endswith(".py")
            and name not in NOT_ATTACKS
            and not name.startswith(HARNESS_PREFIX)
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Remember security modules that were skipped or broken before any test could run."""
        if "::" in report.nodeid or not report.nodeid.endswith(".py"):
            return
        if not self._is_attack(self.config.rootpath / report.nodeid):
            return
        self.seen = True
        if report.skipped:
            self.uncollectable[report.nodeid] = f"module skipped: {_skip_reason(report)}"
        elif report.failed:
            self.uncollectable[report.nodeid] = f"module failed to load: {_failure_line(report)}"

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Record every test selected to run; the security ones count as attacks."""
        for item in session.items:
            attack = self._is_attack(item.path)
            self.seen = self.seen or attack
            name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
            self.outcomes[item.nodeid] = Outcome(self._rel(item.path), name, attack)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold each phase's result into its test's outcome: the worst phase wins."""
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if hasattr(report, "wasxfail"):
            if report.skipped:
                outcome.fold(XFAILED, report.wasxfail)
            else:  # xpass: a strict xfail fails the run; a lenient one means the gap closed
                outcome.fold(LEAKED if report.failed else BLOCKED, "xfail passed")
        elif report.failed:
            outcome.fold(LEAKED if report.when == "call" else ERROR, _failure_line(report))
        elif report.skipped:
            outcome.fold(SKIPPED, _skip_reason(report))
        elif report.when == "call":
            outcome.fold(BLOCKED, "")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """Print the report if security tests were collected, and write its JSON copy."""
        if not self.seen or self.config.option.collectonly:
            return
        report = build_report(self.config.rootpath, self.outcomes, self.uncollectable)
        print_report(terminalreporter, report)
        target = os.environ.get(REPORT_ENV)
        if target:
            # The session's own verdict too: a failure outside the attacks also fails CI.
            report["pytest_exit_status"] = int(exitstatus)
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            terminalreporter.write_line(f"JSON report written to {path}")


def pytest_configure(config: pytest.Config) -> None:
    # pytest replays this hook for a conftest registered mid-collection, so the plugin exists
    # as soon as this folder is collected; the guard keeps one instance per session.
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(SecurityReport(config), PLUGIN_NAME)
