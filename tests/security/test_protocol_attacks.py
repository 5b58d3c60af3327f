"""Attacks on the agent protocol over a real Prosody: strangers, spoofed requesters, probes,
forged senders, room occupants, and commands for skills the requester may not use."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from slixmpp import JID
from slixmpp.exceptions import IqError

from host.confirm import Outcome, Settings
from sandbox.spec import HostCallHandler, RunResult, RunSpec, Status
from tests.fixtures.prosody import MUC, Prosody
from tests.fixtures.xmpp import WAIT
from tests.protocol.harness import (
    CF,
    CMD,
    EX,
    SK,
    Parts,
    agent,
    condition,
    domain,
    el,
    execute,
    parts,
    people,
)

__all__ = ["domain", "parts"]

pytestmark = pytest.mark.xmpp


def requesters(audit_path: Path) -> list[str]:
    return [
        json.loads(line)["data"]["requester"]
        for line in audit_path.read_text().splitlines()
        if json.loads(line)["event"] == "request.received"
    ]


def test_protocol_stranger_cannot_execute_or_list(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "mallory") as [mallory],
        ):
            with pytest.raises(IqError) as caught:
                await mallory.iq(a.jid, el(execute("echo", text="hi")))
            assert condition(caught.value) == ("not-authorized", "auth")
            with pytest.raises(IqError) as caught:
                await mallory.iq(a.jid, el(f"<query xmlns='{SK}'/>"), kind="get")
            assert condition(caught.value) == ("not-authorized", "auth")
            assert "echo" not in str(caught.value.iq)
            found = await mallory.plugin["xep_0030"].get_items(jid=a.jid, node=CMD, timeout=WAIT)
            assert list(found["disco_items"]["items"]) == []
            assert not a.world.audit_path.exists() or requesters(a.world.audit_path) == []

    asyncio.run(main())


def test_protocol_requester_comes_from_the_stanza_never_from_a_param(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "bob") as [bob],
        ):
            # A param naming someone else is not a parameter at all.
            with pytest.raises(IqError) as caught:
                await bob.iq(a.jid, el(execute("calc", requester="alice@localhost",
                                               expression="1")))  # fmt: skip
            assert condition(caught.value) == ("item-not-found", "cancel")
            with pytest.raises(IqError) as caught:
                await bob.iq(a.jid, el(execute("echo", text="hi", on_behalf_of="alice@localhost")))
            assert condition(caught.value) == ("bad-request", "modify")
            # A forged stanza `from`: the server stamps the authenticated sender over it.
            iq = bob.make_iq_set(ito=a.jid)
            iq.append(el(execute("echo", text="alice@localhost")))
            iq["from"] = JID("alice@localhost/forged")
            reply = await iq.send(timeout=WAIT)
            assert reply["type"] == "result"
            assert requesters(a.world.audit_path) == ["bob@localhost"]

    asyncio.run(main())


def test_protocol_forged_from_cannot_answer_for_an_approver(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            await alice.iq(a.jid, el(execute("fs.delete", path="x.txt")))
            cid = (await bob.prompt()).get("id") or ""
            iq = alice.make_iq_set(ito=a.jid)
            iq.append(el(f"<confirm-response xmlns='{CF}' id='{cid}' answer='yes'/>"))
            iq["from"] = JID("bob@localhost/phone")
            with pytest.raises(IqError) as caught:
                await iq.send(timeout=WAIT)
            assert condition(caught.value) == ("item-not-found", "cancel")
            found = a.world.service.get(cid)
            assert found is not None
            assert (found.state.value, found.answers) == ("pending", ())

    asyncio.run(main())


def test_protocol_room_occupant_answer_never_counts(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    room = f"approvals@{MUC}"

    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            await a.stream.plugin["xep_0045"].join_muc(
                JID(room), "Airlock", pfrom=a.stream.boundjid
            )
            await bob.plugin["xep_0045"].join_muc_wait(JID(room), "bob", maxstanzas=0, timeout=WAIT)
            await alice.iq(a.jid, el(execute("fs.delete", path="x.txt")))
            cid = (await bob.prompt()).get("id") or ""
            bob.send_message(mto=JID(room), mbody="yes", mtype="groupchat")
            # (with a body: the room does not relay body-less group chat)
            msg = bob.make_message(mto=JID(room), mbody="approved", mtype="groupchat")
            msg.append(el(f"<confirm-response xmlns='{CF}' id='{cid}' answer='yes'/>"))
            msg.send()
            # Both lines come back to bob from the room (the room sends every occupant its copy,
            # the agent's included); then a round trip to the agent drains what it received.
            echoed = 0
            while echoed < 2:
                line = await bob.next_message()
                echoed += line["type"] == "groupchat" and str(line["from"]) == f"{room}/bob"
            await bob.barrier(a.jid)
            found = a.world.service.get(cid)
            assert found is not None
            assert (found.state.value, found.answers) == ("pending", ())
            # What the edge does with a room line from an approver: refused, audited, no effect.
            router = a.handlers.router
            assert router is not None
            routed = router.route_text("bob@localhost", "yes", room=True)
            assert routed is not None
            assert routed.element is not None
            assert routed.element.get("outcome") == "refused-channel"
            assert a.world.service.get(cid).state.value == "pending"  # type: ignore[union-attr]
            assert Outcome.REFUSED_CHANNEL.value in a.world.audit_path.read_text()

    asyncio.run(main())


def test_protocol_commands_for_skills_not_offered_are_refused(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            start = el(f"<command xmlns='{CMD}' node='fs.delete' action='execute'/>")
            with pytest.raises(IqError) as caught:
                await bob.iq(a.jid, start)
            assert condition(caught.value) == ("item-not-found", "cancel")
            # Bob completes Alice's open session with his own form: no such session for him.
            stage = await alice.iq(a.jid, el(f"<command xmlns='{CMD}' node='echo'/>"))
            form = (
                "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                f"<value>{EX}</value></field><field var='text'><value>hi</value></field></x>"
            )
            hijack = el(
                f"<command xmlns='{CMD}' node='echo' action='complete' "
                f"sessionid='{stage.get('sessionid')}'>{form}</command>"
            )
            with pytest.raises(IqError) as caught:
                await bob.iq(a.jid, hijack)
            assert condition(caught.value) == ("item-not-found", "cancel")
            fs_form = form.replace("'text'", "'path'")
            forged = el(
                f"<command xmlns='{CMD}' node='fs.delete' action='complete' "
                f"sessionid='{stage.get('sessionid')}'>{fs_form}</command>"
            )
            with pytest.raises(IqError) as caught:
                await bob.iq(a.jid, forged)
            assert condition(caught.value) == ("item-not-found", "cancel")
            assert not a.world.audit_path.exists() or requesters(a.world.audit_path) == []

    asyncio.run(main())


class LeakyChild:
    """A sandbox whose child dies with a message naming host paths."""

    def __call__(self, spec: RunSpec, host_calls: HostCallHandler | None) -> RunResult:
        return RunResult(status=Status.SANDBOX_ERROR, error="child died opening /srv/secret/db")


def test_protocol_host_failures_leak_nothing_but_an_incident_id(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, (parts[0], LeakyChild())) as a,
            people(prosody, "alice") as [alice],
        ):
            with pytest.raises(IqError) as caught:
                await alice.iq(a.jid, el(execute("echo", text="hi")))
            assert condition(caught.value) == ("internal-server-error", "wait")
            text = str(caught.value.iq["error"]["text"])
            assert text.startswith("The agent could not handle this request (incident ")
            assert "/srv/secret" not in str(caught.value.iq)

    asyncio.run(main())


def test_protocol_confirmation_flood_is_refused_and_does_not_stall_runs(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        settings = Settings(max_pending_per_requester=8)
        async with (
            agent(prosody, domain, tmp_path, parts, settings=settings) as a,
            people(prosody, "alice") as [alice],
        ):
            for n in range(8):  # eight requests, each holding a worker while approvers decide
                pending = await alice.iq(a.jid, el(execute("fs.delete", path=f"f{n}")))
                assert pending.get("reason") == "confirmation"
            with pytest.raises(IqError) as caught:
                await alice.iq(a.jid, el(execute("fs.delete", path="one-more")))
            assert condition(caught.value) == ("resource-constraint", "wait")
            result = await alice.iq(a.jid, el(execute("echo", text="still served")))
            assert result.get("status") == "ok"
            for c in a.world.service.pending_for("bob@localhost"):
                a.world.service.withdraw(c.id, "test over")

    asyncio.run(main())
