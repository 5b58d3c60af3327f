"""#skills, #execute, disco and ad-hoc commands against the real Prosody, policy and sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from tests.fixtures.prosody import Prosody
from tests.protocol.harness import EX, SK, Parts, agent, condition, el, execute, people

pytestmark = pytest.mark.xmpp


def test_disco_and_skills_list_what_the_policy_could_allow(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with (
            agent(prosody, domain, tmp_path, parts) as a,
            people(prosody, "alice", "bob") as [alice, bob],
        ):
            info = await alice.plugin["xep_0030"].get_info(jid=a.jid, timeout=15)
            features = set(info["disco_info"]["features"])
            assert {
                "urn:fluux:agent:0",
                SK,
                EX,
                "urn:fluux:agent:0#confirm",
                "http://jabber.org/protocol/commands",
            } <= features
            query = await alice.iq(a.jid, el(f"<query xmlns='{SK}'/>"), kind="get")
            skills = {s.get("name"): s for s in query}
            assert sorted(skills) == ["calc", "echo", "fs.delete", "fs.list"]
            assert skills["fs.delete"].get("destructive") == "true"
            params = skills["echo"].find(f"{{{SK}}}parameters")
            assert params is not None
            assert params.get("type") == "application/schema+json"
            assert json.loads(params.text or "")["required"] == ["text"]
            bobs = await bob.iq(a.jid, el(f"<query xmlns='{SK}'/>"), kind="get")
            assert [s.get("name") for s in bobs] == ["echo"]

    asyncio.run(main())


def test_execute_runs_the_skill_and_returns_its_json(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        async with agent(prosody, domain, tmp_path, parts) as a, people(prosody, "alice") as [al]:
            result = await al.iq(a.jid, el(execute("echo", text="budget 2026")))
            assert (result.tag, result.get("status"), result.get("skill")) == (
                f"{{{EX}}}result",
                "ok",
                "echo",
            )
            output = result.find(f"{{{EX}}}output")
            assert output is not None
            assert output.get("type") == "application/json"
            assert json.loads(output.text or "") == {"text": "budget 2026"}
            assert result.get("request")
            calc = await al.iq(a.jid, el(execute("calc", expression="(1.5 + 2) * 2")))
            out = calc.find(f"{{{EX}}}output")
            assert out is not None
            assert json.loads(out.text or "")["value"] == 7

    asyncio.run(main())


@pytest.mark.parametrize(
    ("payload", "expected", "text"),
    [
        (execute("echo", text="x" * 150), ("not-authorized", "auth"), "policy does not allow"),
        (execute("echo", nope="1"), ("bad-request", "modify"), "'nope' is not a parameter"),
        (execute("fs.list", max_entries="lots"), ("bad-request", "modify"), "not a JSON value"),
        (execute("fs.list", max_entries="5000"), ("bad-request", "modify"), "max_entries"),
        (execute("nosuch", text="a"), ("item-not-found", "cancel"), "No such skill"),
        (f"<execute xmlns='{EX}' skill='echo'/>", ("bad-request", "modify"), "text"),
    ],
    ids=["deny", "unknown-param", "bad-type", "out-of-range", "unknown-skill", "missing"],
)
def test_execute_refusals_have_exact_conditions(
    prosody: Prosody,
    domain: str,
    tmp_path: Path,
    parts: Parts,
    payload: str,
    expected: tuple[str, str],
    text: str | None,
) -> None:
    async def main() -> None:
        async with agent(prosody, domain, tmp_path, parts) as a, people(prosody, "alice") as [al]:
            with pytest.raises(IqError) as caught:
                await al.iq(a.jid, el(payload))
            assert condition(caught.value) == expected
            if text is not None:
                assert text in str(caught.value.iq["error"]["text"])

    asyncio.run(main())


def test_wrong_iq_types_are_answered_bad_request(
    prosody: Prosody, domain: str, tmp_path: Path, parts: Parts
) -> None:
    async def main() -> None:
        cf = "<confirm-response xmlns='urn:fluux:agent:0#confirm' id='0' answer='yes'/>"
        cmd = "<command xmlns='http://jabber.org/protocol/commands' node='echo'/>"
        async with agent(prosody, domain, tmp_path, parts) as a, people(prosody, "alice") as [al]:
            for payload, kind in ((execute("echo", text="x"), "get"), (cf, "get"), (cmd, "get"),
                                  (f"<query xmlns='{SK}'/>", "set")):  # fmt: skip
                with pytest.raises(IqError) as caught:
                    await al.iq(a.jid, el(payload), kind=kind)
                assert condition(caught.value) == ("bad-request", "modify")

    asyncio.run(main())
