"""Skills as XEP-0050 ad-hoc commands, and the #confirm command, from a plain slixmpp client."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from tests.fixtures.prosody import Prosody
from tests.protocol.harness import CF, CMD, EX, Parts, Person, agent, condition, el, people

pytestmark = pytest.mark.xmpp

D = "jabber:x:data"


async def nodes(person: Person, jid: str) -> list[str]:
    found = await person.plugin["xep_0030"].get_items(jid=jid, node=CMD, timeout=15)
    return sorted(str(item[1]) for item in found["disco_items"]["items"])


def command(
    node: str, action: str = "execute", session: str | None = None, form: str = ""
) -> ET.Element:
    sid = f" sessionid='{session}'" if session else ""
    return el(f"<command xmlns='{CMD}' node='{node}' action='{action}'{sid}>{form}</command>")


def submission(form_type: str, **values: str) -> str:
    fields = "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in values.items())
    return (
        f"<x xmlns='{D}' type='submit'><field var='FORM_TYPE'><value>{form_type}</value></field>"
        f"{fields}</x>"
    )


def test_commands_are_listed_per_requester(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            assert await nodes(alice, a.jid) == ["calc", "echo", "fs.delete", "fs.list", CF]
            assert await nodes(bob, a.jid) == ["echo", CF]

    asyncio.run(main())


def test_a_skill_command_returns_its_form_and_runs_on_complete(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with agent(prosody, domain, tmp_path, parts) as a, people(prosody, "alice") as [al]:
            first = await al.iq(a.jid, command("fs.list"))
            assert first.get("status") == "executing"
            session = first.get("sessionid")
            form = first.find(f"{{{D}}}x")
            assert form is not None
            fields = {f.get("var"): f for f in form.findall(f"{{{D}}}field")}
            limit = fields["max_entries"].find(
                "{http://jabber.org/protocol/xdata-validate}validate"
            )
            assert limit is not None
            assert limit.get("datatype") == "xs:integer"
            # A bad value is refused with the field's name; the session is used up either way.
            with pytest.raises(IqError) as caught:
                await al.iq(a.jid, command("fs.list", "complete", session,
                                           submission(EX, max_entries="many")))  # fmt: skip
            assert condition(caught.value) == ("bad-request", "modify")
            assert "field 'max_entries'" in str(caught.value.iq["error"]["text"])
            (a.world.workspace / "a.md").write_text("x")
            again = await al.iq(a.jid, command("fs.list"))
            done = await al.iq(
                a.jid,
                command("fs.list", "complete", again.get("sessionid"),
                        submission(EX, path=".", max_entries="10")),
            )  # fmt: skip
            assert done.get("status") == "completed"
            note = done.find(f"{{{CMD}}}note")
            assert note is not None
            assert [e["name"] for e in json.loads(note.text or "")["entries"]] == ["a.md"]

    asyncio.run(main())


def test_the_confirm_command_answers_a_pending_confirmation(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            nothing = await bob.iq(a.jid, command(CF))
            assert nothing.get("status") == "completed"
            assert nothing.findtext(f"{{{CMD}}}note") == "Nothing waits for your confirmation."
            (a.world.workspace / "old.txt").write_text("bye")
            param = "<param name='path'>old.txt</param>"
            await alice.iq(a.jid, el(f"<execute xmlns='{EX}' skill='fs.delete'>{param}</execute>"))
            cid = (await bob.prompt()).get("id")
            stage = await bob.iq(a.jid, command(CF))
            options = stage.findall(f"{{{D}}}x/{{{D}}}field[@var='id']/{{{D}}}option")
            assert [o.findtext(f"{{{D}}}value") for o in options] == [cid]
            done = await bob.iq(
                a.jid,
                command(
                    CF,
                    "complete",
                    stage.get("sessionid"),
                    submission(CF, id=cid or "", answer="yes"),
                ),
            )
            assert (done.findtext(f"{{{CMD}}}note") or "").startswith("Approved action-")
            _, outcome = await alice.result()
            assert outcome.get("status") == "ok"

    asyncio.run(main())
