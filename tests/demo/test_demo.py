"""`make demo` end to end: Prosody, `airlock serve`, a user, the confirmation, the sandbox, the
audit log. Each test runs the real story once (about ten seconds) and checks its facts."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from host.demo.story import Facts, tell
from host.demo.transcript import Transcript
from host.devtools.prosody import prosody_installed

pytestmark = [
    pytest.mark.xmpp,
    pytest.mark.slow,
    pytest.mark.skipif(not prosody_installed(), reason="prosody is not installed"),
]
REPO = Path(__file__).resolve().parents[2]


def run_story(tmp_path: Path, answer: str) -> tuple[Facts, list[str]]:
    out = io.StringIO()
    transcript = Transcript(out)
    facts = asyncio.run(tell(transcript, answer=answer, keep=tmp_path / "run"))
    return facts, transcript.lines


def delete_events(facts: Facts) -> list[str]:
    """The events `airlock audit show --request-id` printed for the delete request."""
    return [
        line.split()[2]
        for line in facts.show_output.splitlines()
        if facts.delete_request_id in line
    ]


def test_yes_deletes_the_file_after_the_confirmation(tmp_path: Path) -> None:
    facts, lines = run_story(tmp_path, "yes")
    assert "old-draft.txt" in facts.listing_reply
    ref = facts.confirm_ref
    assert re.fullmatch(r"action-\d{4,}", ref)
    assert "Reply yes or no" in facts.prompt_body
    assert ref in facts.prompt_body
    assert facts.confirm_element
    assert facts.answer_replies[0] == f"Approved {ref}."
    assert facts.answer_replies[-1] == (
        'Outcome of the delete: {"deleted": "file", "path": "old-draft.txt"}'
    )
    assert not facts.victim_exists_after
    assert not (tmp_path / "run" / "world" / "workspace" / "old-draft.txt").exists()
    assert (tmp_path / "run" / "world" / "workspace" / "notes.md").exists()
    # The sandbox really ran it, locked down: what the child reported to the audit log.
    assert facts.enforcement["no_new_privs"] is True
    assert facts.enforcement["seccomp"] is True
    assert facts.enforcement["capabilities_dropped"] is True
    assert "fs" in facts.enforcement["landlock_rules"]
    assert facts.verify_status == 0
    assert facts.verify_output.startswith(f"OK {facts.audit_records} records")
    assert delete_events(facts) == [
        "request.received",
        "policy.decision",
        "confirm.asked",
        "confirm.answered",
        "confirm.claimed",
        "run.started",
        "run.result",
    ]
    said = [line.split()[1] for line in lines if re.match(r"\s*\d+\.\d\ds ", line)]
    assert [who for who in said if who != "demo"] == [
        "alice", "agent", "alice", "agent", "xml", "alice", "agent", "agent",
        "check", "sandbox", "airlock", "check", "airlock",
    ]  # fmt: skip
    assert any(line.endswith("ok: audit chain intact, " + str(facts.audit_records) + " records")
               for line in lines)  # fmt: skip


def test_no_leaves_the_file_and_runs_nothing(tmp_path: Path) -> None:
    facts, _lines = run_story(tmp_path, "no")
    ref = facts.confirm_ref
    assert facts.answer_replies[0] == f"Denied {ref}; it will not run."
    assert facts.answer_replies[-1].startswith(
        f"Outcome of the delete: Not run: an approver said no ({ref})."
    )
    assert facts.victim_exists_after
    assert facts.enforcement == {}
    assert delete_events(facts) == [
        "request.received",
        "policy.decision",
        "confirm.asked",
        "confirm.answered",
    ]
    assert facts.events.count("confirm.answered") == 1
    assert facts.verify_status == 0


def test_make_demo_exits_zero_and_prints_the_transcript(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "host.demo", "--no-colour", "--keep", str(tmp_path / "k")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "\033[" not in done.stdout  # no colours when the output is not a terminal
    assert "ok: old-draft.txt is gone" in done.stdout
    assert "the story completed in" in done.stdout.splitlines()[-1]
