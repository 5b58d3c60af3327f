"""The story ``make demo`` tells, step by step, each step checked.

1. Build the two skills if needed; start a throwaway Prosody; write the world (workspace,
   policy, configuration); start the real ``airlock serve`` (component mode, scripted model).
2. The user asks for the workspace listing: policy allows ``fs.list``; it runs in the sandbox.
3. The user asks to delete a file: policy says confirm by the requester; the confirmation
   prompt arrives (plain body with its ref, and the structured ``<confirm/>`` element).
4. The user answers (``yes`` by default, ``--answer no`` for the refusal); the reply comes; the
   file is gone (or, after "no", still there).
5. The host stops; the sandbox enforcement of the run is read from the audit log;
   ``airlock audit verify`` passes; ``airlock audit show`` prints the delete request.

Any step that does not happen as expected raises :class:`DemoFailed` with what was seen.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slixmpp.stanza import Message

from host.confirm.elements import NS_CONFIRM
from host.demo.processes import ServeProcess, airlock_audit, records
from host.demo.transcript import Transcript
from host.demo.user import User
from host.demo.world import AGENT_DOMAIN, USER, VICTIM, World, ensure_skills, make_world
from host.devtools.prosody import LocalProsody
from host.errors import AirlockError

__all__ = ["DemoFailed", "Facts", "tell"]

CONFIRM_TAG = f"{{{NS_CONFIRM}}}confirm"
# Messages the user may receive after answering before the agent's final reply: the
# confirmation's own acknowledgement, then the agent's sentence about the result.
MAX_REPLIES_AFTER_ANSWER = 4


class DemoFailed(AirlockError):
    """The story did not happen as it should; the message says which step and what was seen."""


@dataclass
class Facts:
    """What the demo observed, for the caller (and the tests) to check."""

    listing_reply: str = ""
    prompt_body: str = ""
    confirm_ref: str = ""
    confirm_element: bool = False
    answer_replies: list[str] = field(default_factory=list)
    victim_exists_after: bool = True
    enforcement: dict[str, Any] = field(default_factory=dict)
    verify_status: int = -1
    verify_output: str = ""
    audit_records: int = 0
    delete_request_id: str = ""
    show_output: str = ""
    events: list[str] = field(default_factory=list)


async def tell(out: Transcript, *, answer: str = "yes", keep: Path | None = None) -> Facts:
    """Tell the whole story; returns its facts or raises DemoFailed. ``keep`` is a directory
    to run in and leave behind (for a look at the logs); by default a temporary one is removed."""
    with ExitStack() as stack:
        root = keep or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="airlock-demo-"))
        )
        return await _tell(out, stack, root, answer)
    raise AssertionError("unreachable")  # pragma: no cover (mypy: ExitStack may swallow)


async def _tell(out: Transcript, stack: ExitStack, root: Path, answer: str) -> Facts:
    facts = Facts()
    out.step("building the skills fs.list and fs.delete if needed (skills_wasm/)")
    built = await asyncio.to_thread(ensure_skills)
    out.step(f"built {', '.join(built)}" if built else "skills already built")

    secret = secrets.token_hex(16)
    user_password = secrets.token_hex(12)
    prosody = LocalProsody(
        root / "prosody", users={USER: user_password}, components={AGENT_DOMAIN: secret}
    )
    stack.callback(prosody.stop)
    await asyncio.to_thread(prosody.start)
    out.step(f"Prosody on 127.0.0.1 (c2s :{prosody.c2s_port}, component :{prosody.component_port})")

    world = make_world(root / "world", component_port=prosody.component_port, secret=secret)
    names = ", ".join(sorted(p.name for p in world.workspace.iterdir()))
    out.step(f"workspace {world.workspace}: {names}")
    out.step("policy: fs.list allowed; fs.delete only after the requester confirms")
    serve = ServeProcess(world.config, root / "serve.log", {"AIRLOCK_DEMO_SECRET": secret})
    stack.callback(serve.stop)
    out.step(
        f"airlock serve --config {world.config.name} (component {AGENT_DOMAIN}, scripted model)"
    )

    user = User(world.user_jid, user_password, prosody.ca_file)
    try:
        await user.start(prosody.c2s_port)
        await user.wait_for_agent(AGENT_DOMAIN, serve.alive)
        out.step(f"{world.user_jid} is online; the agent answers pings")
        await _conversation(out, user, world, facts, answer)
    except AirlockError as exc:
        raise DemoFailed(f"{exc}\n--- airlock serve log (tail) ---\n{serve.log_tail()}") from None
    finally:
        await user.stop()

    status = serve.stop()
    out.step(f"airlock serve stopped (exit {status})")
    _audit(out, world, facts)
    return facts


def _name(msg: Message) -> str:
    return "agent" if str(msg["from"].bare) == AGENT_DOMAIN else str(msg["from"].bare)


async def _conversation(
    out: Transcript, user: User, world: World, facts: Facts, answer: str
) -> None:
    ask = "Please list the files in the workspace."
    out.say(USER, ask, role="user")
    user.say(AGENT_DOMAIN, ask)
    reply = await user.next_message()
    facts.listing_reply = str(reply["body"])
    out.say(_name(reply), facts.listing_reply, role="agent")
    if VICTIM not in facts.listing_reply:
        raise DemoFailed(f"the listing does not name {VICTIM}: {facts.listing_reply!r}")

    ask = f"Delete {VICTIM}, please."
    out.say(USER, ask, role="user")
    user.say(AGENT_DOMAIN, ask)
    prompt = await user.next_message()
    facts.prompt_body = str(prompt["body"])
    element = prompt.xml.find(CONFIRM_TAG)
    out.say(_name(prompt), facts.prompt_body, role="agent")
    if element is None:
        raise DemoFailed(f"the agent's answer is not a confirmation prompt: {facts.prompt_body!r}")
    facts.confirm_element = True
    facts.confirm_ref = element.get("ref", "")
    action = element.find(f"{{{NS_CONFIRM}}}action")
    out.say(
        "xml",
        f"<confirm xmlns='{NS_CONFIRM}' ref='{facts.confirm_ref}'> present, action "
        f"type={action.get('type') if action is not None else '?'}",
        role="airlock",
    )

    out.say(USER, answer, role="user")
    user.say(AGENT_DOMAIN, answer)
    for _ in range(MAX_REPLIES_AFTER_ANSWER):
        msg = await user.next_message()
        body = str(msg["body"])
        facts.answer_replies.append(body)
        out.say(_name(msg), body, role="agent")
        if body.startswith("Outcome of the delete:"):  # the final turn in data/turns.toml
            break
    else:
        raise DemoFailed(f"no final reply after {answer!r}: {facts.answer_replies!r}")

    facts.victim_exists_after = world.victim.exists()
    if answer == "yes" and facts.victim_exists_after:
        raise DemoFailed(f"{VICTIM} is still in the workspace after the approval")
    if answer != "yes" and not facts.victim_exists_after:
        raise DemoFailed(f"{VICTIM} was deleted although the user said {answer!r}")
    out.check(f"{VICTIM} is {'gone' if answer == 'yes' else 'still there'}")


def _audit(out: Transcript, world: World, facts: Facts) -> None:
    found = records(world.audit)
    facts.events = [r["event"] for r in found]
    deletes = [
        r["request_id"]
        for r in found
        if r["event"] == "request.received" and r["data"].get("skill") == "fs.delete"
    ]
    if not deletes:
        raise DemoFailed("the audit log has no fs.delete request")
    facts.delete_request_id = deletes[-1]
    runs = [
        r
        for r in found
        if r["event"] == "run.result" and r["request_id"] == facts.delete_request_id
    ]
    if runs:
        facts.enforcement = runs[-1]["data"]["enforcement"]
        e = facts.enforcement
        out.say(
            "sandbox",
            f"Landlock ABI {e['landlock_abi']} rules {'+'.join(e['landlock_rules']) or 'none'}, "
            f"seccomp {'on' if e['seccomp'] else 'OFF'}, "
            f"no_new_privs {'on' if e['no_new_privs'] else 'OFF'}, "
            f"capabilities {'dropped' if e['capabilities_dropped'] else 'KEPT'}; "
            f"{runs[-1]['data']['status']} in {runs[-1]['data']['wall_ms']:.0f} ms, "
            f"fuel {runs[-1]['data']['fuel_used']}",
            role="airlock",
        )
    out.step(f"airlock audit verify {world.audit.name}")
    facts.verify_status, facts.verify_output = airlock_audit("verify", str(world.audit))
    facts.audit_records = len(found)
    out.say("airlock", facts.verify_output, verbatim=True)
    if facts.verify_status != 0:
        raise DemoFailed(f"audit verify failed (exit {facts.verify_status})")
    out.check(f"audit chain intact, {facts.audit_records} records")
    out.step(f"airlock audit show --request-id={facts.delete_request_id}")
    status, facts.show_output = airlock_audit(
        "show", str(world.audit), f"--request-id={facts.delete_request_id}"
    )
    out.say("airlock", facts.show_output, verbatim=True)
    if status != 0:
        raise DemoFailed(f"audit show failed (exit {status})")
