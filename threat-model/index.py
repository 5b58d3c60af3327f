"""Rebuild the "threats by boundary" index of threat-model/README.md from the tables.

Usage: ``python threat-model/index.py`` prints the index; ``--write`` replaces the text between
the ``INDEX-START`` and ``INDEX-END`` comment markers of the README with it. Run it after adding
rows, then review the diff: the README's prose is written by hand, only the index is generated.
``--tests T-SBX-50 ...`` prints the pytest node ids that prove those rows, so an auditor can
re-run exactly one claim: ``pytest $(python threat-model/index.py --tests T-SBX-50)``.

Each row is placed at one trust boundary: by its area (the ``XMP`` of ``T-XMP-01``, see
:data:`BOUNDARY_OF_AREA`), else by :data:`BOUNDARY_OF_ROW` (the cross-cutting parser rows and a
few others), else by its table's file name (:data:`BOUNDARY_OF_TABLE`). A row that none of
these place is shown under "unplaced" so that it is never silently left out. The tables the
threat model expects (:data:`EXPECTED_TABLES`) are listed as "table pending" until they exist.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
THREATS = HERE / "threats"
README = HERE / "README.md"
START, END = "<!-- INDEX-START -->", "<!-- INDEX-END -->"
ROW_ID = re.compile(r"^T-[A-Z]{3}-\d{2}$")
NODE = re.compile(r"(tests/[\w/]+\.py::test_\w+)")
STRIDE = "STRIDE"

BOUNDARIES = {
    "B1": "XMPP → host",
    "B2": "model → host",
    "B3": "policy files → host",
    "B4": "host → child",
    "B5": "child → Wasm",
    "B6": "skill supply chain",
    "B7": "audit log",
}
BOUNDARY_OF_AREA = {
    "XMP": "B1",
    "PRO": "B1",
    "CNF": "B1",
    "LLM": "B2",
    "INJ": "B2",  # injected text steering the model, followed to the real path
    "REQ": "B2",
    "POL": "B3",
    "SKL": "B6",
    "AUD": "B7",
}
# The sandbox area (SBX) spans two boundaries; its two tables split along them.
BOUNDARY_OF_TABLE = {"sandbox-os.md": "B4", "sandbox-wasm.md": "B5"}
# Cross-cutting fuzzing rows (parsers.md): each names the parser of one boundary.
BOUNDARY_OF_ROW = {
    **{f"T-PRS-{n:02d}": "B6" for n in (1, 2, 3, 4, 5, 6)},
    "T-PRS-07": "B2",
    "T-PRS-08": "B2",
    "T-PRS-09": "B3",
    "T-PRS-10": "B3",
    "T-PRS-11": "B4",
    "T-PRS-12": "B1",
    "T-PRS-13": "B2",
    "T-PRS-14": "B3",
    "T-PRS-15": "B4",
    # `airlock serve` wiring (serve.md): starting without a sound policy, skills or audit log is
    # the deployer's files reaching the host; a "yes" typed in chat is the XMPP edge.
    "T-SRV-01": "B3",
    "T-SRV-02": "B3",
    "T-SRV-03": "B1",
    # sandbox-wasm.md is B5, except its row on hostile frames from the child (the B4 protocol).
    "T-SBX-16": "B4",
}
# The area tables the threat model expects, by boundary (threats/README.md names the areas).
EXPECTED_TABLES = {
    "B1": ("xmpp.md", "protocol.md", "confirm.md"),
    "B2": ("llm.md",),
    "B3": ("policy.md",),
    "B4": ("sandbox-os.md",),
    "B5": ("sandbox-wasm.md",),
    "B6": ("skills.md",),
    "B7": ("audit.md",),
}


def boundary_of(table: str, row_id: str) -> str | None:
    """The boundary a row belongs to, or None if nothing places it."""
    return (
        BOUNDARY_OF_AREA.get(row_id.split("-")[1])
        or BOUNDARY_OF_ROW.get(row_id)
        or BOUNDARY_OF_TABLE.get(table)
    )


def read_rows(threats: Path = THREATS) -> dict[str, list[tuple[str, str]]]:
    """{table file name: [(row id, STRIDE letters), ...]} for every table under ``threats``."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(threats.glob("*.md")):
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and ROW_ID.match(cells[0]):
                rows.append((cells[0], "".join(c for c in cells[1] if c in STRIDE)))
        if rows:
            tables[path.name] = rows
    return tables


def _line(label: str, table: str, rows: list[tuple[str, str]]) -> str:
    cells = [", ".join(sorted(i for i, s in rows if letter in s)) or "·" for letter in STRIDE]
    return f"| {label} | [{table}](threats/{table}) | " + " | ".join(cells) + " |"


def render(tables: dict[str, list[tuple[str, str]]]) -> str:
    """The index as Markdown: one line per boundary and table, one column per STRIDE letter."""
    lines = [
        "| boundary | table | " + " | ".join(STRIDE) + " |",
        "| --- | --- | " + " | ".join("---" for _ in STRIDE) + " |",
    ]
    for boundary, title in BOUNDARIES.items():
        label = f"{boundary} {title}"
        # Each area's own table first, then the cross-cutting ones that reach this boundary.
        for table, rows in sorted(tables.items(), key=lambda t: (t[0] == "parsers.md", t[0])):
            mine = [(i, s) for i, s in rows if boundary_of(table, i) == boundary]
            if mine:
                lines.append(_line(label, table, mine))
        for table in EXPECTED_TABLES[boundary]:
            if table not in tables:
                pending = " | ".join("" for _ in STRIDE)
                lines.append(f"| {label} | {table}: table pending | {pending} |")
    for table, rows in tables.items():
        unplaced = [(i, s) for i, s in rows if boundary_of(table, i) is None]
        if unplaced:
            lines.append(_line("unplaced", table, unplaced))
    total = sum(len(r) for r in tables.values())
    lines += ["", f"{total} rows in {len(tables)} tables (generated by `threat-model/index.py`)."]
    return "\n".join(lines)


def replace_index(readme: str, index: str) -> str:
    """``readme`` with the text between the markers replaced by ``index``."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{index}\n\n{END}{tail}"


def row_tests(row_ids: list[str], threats: Path = THREATS) -> list[str]:
    """The test node ids named by each of ``row_ids``; ValueError naming an unknown row."""
    tests: dict[str, list[str]] = {}
    for path in sorted(threats.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and ROW_ID.match(cells[0]):
                tests[cells[0]] = NODE.findall(cells[5])
    unknown = [r for r in row_ids if r not in tests]
    if unknown:
        raise ValueError(f"no threat row {', '.join(unknown)} in {threats}")
    return list(dict.fromkeys(node for r in row_ids for node in tests[r]))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--tests"]:
        try:
            print(" ".join(row_tests(argv[1:])))
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    index = render(read_rows())
    if "--write" in argv:
        README.write_text(replace_index(README.read_text(encoding="utf-8"), index), "utf-8")
        print(f"index written to {README}")
    else:
        print(index)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
