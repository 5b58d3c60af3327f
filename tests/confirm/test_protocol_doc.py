"""docs/protocol.md stays true: its XML examples are well formed, and the #confirm ones are
exactly what the core builds and accepts."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from host.confirm import Channel, Decision, Reply, Target, parse_confirm_response, parse_form
from host.confirm.elements import NS_DATA, q
from host.confirm.wording import prompt_text
from tests.confirm.fakes import DIGEST, MemoryAudit

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BLOCK = re.compile(r"```xml\n(.*?)```", re.DOTALL)
DOC_ID = "6f1c0e9a2b7d4c3e8a5f0b1d2c3e4f50"


def examples() -> list[ET.Element]:
    """Every XML example of the document, each block parsed as one fragment."""
    blocks = [b for b in BLOCK.findall(DOC.read_text(encoding="utf-8")) if "<?xml" not in b]
    # The blocks are literal text of our own document, not untrusted input.
    return [ET.fromstring(f"<examples>{b}</examples>") for b in blocks]  # noqa: S314


def all_elements(tag: str) -> list[ET.Element]:
    return [e for root in examples() for e in root.iter(tag)]


def test_every_example_is_well_formed() -> None:
    assert len(examples()) >= 12


def test_documented_confirm_responses_parse() -> None:
    found = all_elements(q("confirm-response"))
    assert [parse_confirm_response(e).decision for e in found] == [Decision.YES, Decision.NO]
    assert {parse_confirm_response(e).target for e in found} == {Target(id=DOC_ID)}


def test_documented_form_submission_parses() -> None:
    submitted = [e for e in all_elements(q("x", NS_DATA)) if e.get("type") == "submit"]
    assert [parse_form(e) for e in submitted] == [
        Reply(decision=Decision.YES, channel=Channel.FORM, target=Target(id=DOC_ID))
    ]


def test_documented_confirm_element_has_the_built_shape() -> None:
    (element,) = all_elements(q("confirm"))
    assert element.attrib == {"id": DOC_ID, "ref": "action-7742"}
    assert [child.tag for child in element] == [q("action"), q("risk"), q("expires")]
    assert element.findtext(q("expires")) == "2026-02-08T19:00:00Z"


def test_documented_prompt_text_is_what_the_core_writes() -> None:
    expected = prompt_text(
        summary="Delete notes/2026.md in your workspace",
        ref="action-7742",
        requester="user@example.com",
        approver="user@example.com",
        required=1,
        expires_at=datetime(2026, 2, 8, 19, 0, tzinfo=UTC),
    )
    (message,) = [m for m in all_elements("message") if m.find(q("confirm")) is not None]
    assert message.findtext("body") == expected
    assert message.findtext(f"{q('x', NS_DATA)}/{q('instructions', NS_DATA)}") == expected


def test_appendix_wiring_example_runs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    sent: list[tuple[str, ...]] = []
    body = "\n".join("    " + line if line else "" for line in code.splitlines())
    namespace: dict[str, object] = {
        "state_dir": str(tmp_path),
        "audit_sink": MemoryAudit(),
        "config_table": {"default_expiry_s": 300},
        "digest": DIGEST,
        "send": lambda to, body, *elements: sent.append((to, body)),
        "respond": lambda to, text, element: sent.append((to, text, element.get("outcome"))),
    }
    # The example is written as the body of the pipeline's coroutine (it awaits wait()).
    exec(f"async def example():\n{body}\n", namespace)  # noqa: S102 (our own document)
    asyncio.run(namespace["example"]())  # type: ignore[operator]
    prompt, answer = sent
    assert prompt[0] == "user@example.com"
    assert prompt[1].startswith("Delete notes/2026.md in your workspace? Reply yes or no")
    assert answer[0] == "user@example.com"
    assert answer[1].startswith("Approved action-")
    assert answer[2] == "approved"
