"""The threat model cannot drift from the code: every row must name tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THREATS = REPO / "threat-model" / "threats"
ROW_ID = re.compile(r"^T-[A-Z]{3}-\d{2}$")
NODE = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def threat_rows() -> list[tuple[str, str, str]]:
    """(file, row id, tests cell) for every row of every threat table."""
    rows = []
    for path in sorted(THREATS.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and ROW_ID.match(cells[0]):
                rows.append((path.name, cells[0], cells[5]))
    return rows


def defined_tests(path: Path) -> set[str]:
    """Names of test functions defined in ``path`` (at module level or in classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_threat_tables_have_rows() -> None:
    assert threat_rows(), f"no threat rows found in {THREATS}"


def test_threat_ids_are_unique() -> None:
    ids = [row_id for _, row_id, _ in threat_rows()]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert dupes == []


@pytest.mark.parametrize(("table", "row_id", "cell"), threat_rows())
def test_threat_row_names_existing_tests(table: str, row_id: str, cell: str) -> None:
    nodes = NODE.findall(cell)
    assert nodes, f"{table} {row_id}: names no test"
    for file, name in nodes:
        path = REPO / file
        assert path.is_file(), f"{table} {row_id}: {file} does not exist"
        assert name in defined_tests(path), f"{table} {row_id}: {file} has no {name}"
