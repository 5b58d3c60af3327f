"""``urn:fluux:agent:0#execute``: the request element in, the result (or error) out.

::

    <execute xmlns='urn:fluux:agent:0#execute' skill='notes.search'>
      <param name='query'>budget 2026</param>
      <param name='limit'>5</param>
    </execute>

A ``<param/>`` of a ``string`` property is taken as it is; any other is parsed as JSON (``5``,
``true``, ``["a","b"]``) and then validated with everything else against the schema by the
pipeline. How each outcome goes on the wire (docs/protocol.md, sections 5.2, 5.3 and 8):

=================================  =========================================================
outcome                            on the wire
=================================  =========================================================
ran and succeeded                  ``<result status='ok'>`` with the JSON output
ran and failed (the skill's error, ``<result status='failed'>`` with ``<failure reason=.../>``
trap, fuel, time, memory)          and the error as JSON output
invalid arguments                  ``bad-request`` (modify), naming the parameter
denied by policy                   ``not-authorized`` (auth), no policy text
rate limited, confirmation queue   ``resource-constraint`` (wait)
full
approver said no / expired         ``not-acceptable`` (cancel) + ``<denied/>`` / ``<expired/>``
the host failed (audit, sandbox)   ``internal-server-error`` (wait) with an incident id only
=================================  =========================================================
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from host.confirm import Confirmation, State
from host.confirm.elements import iso
from host.gateway import Executed
from host.protocol.errors import ProtocolError
from host.protocol.ns import NS_CONFIRM, NS_EXECUTE, NS_STANZAS, q
from host.protocol.running import Running
from host.skills.manifest import Manifest
from sandbox.spec import Status

__all__ = [
    "MAX_OUTPUT_CHARS",
    "ExecuteRequest",
    "error_element",
    "error_for",
    "parse_execute",
    "pending_element",
    "result_element",
    "skill_of",
]

# A parameter is one value of one field; the stanza size limit of the server bounds the rest.
MAX_PARAMS = 64
MAX_PARAM_CHARS = 65_536
# The output put on the wire (docs/protocol.md 6.2: "default 64 KiB"); longer is truncated.
MAX_OUTPUT_CHARS = 65_536
_FAILURE = {
    Status.TRAP: "trap",
    Status.OUT_OF_FUEL: "fuel",
    Status.TIMEOUT: "time",
    Status.MEMORY_LIMIT: "memory",
}


@dataclass(frozen=True)
class ExecuteRequest:
    """A parsed ``<execute/>``: which skill, and the arguments typed by its schema."""

    skill: str
    arguments: dict[str, Any]


def skill_of(element: ET.Element) -> str:
    """The ``skill`` attribute of an ``<execute/>`` element (bad-request if absent)."""
    if element.tag != q("execute", NS_EXECUTE):
        raise ProtocolError.bad_request("expected an execute element")
    skill = element.get("skill")
    if not skill or len(skill) > 64:
        raise ProtocolError.bad_request("execute needs a skill attribute")
    return skill


def parse_execute(element: ET.Element, manifest: Manifest) -> ExecuteRequest:
    """The request in ``element`` for ``manifest``'s skill (ProtocolError ``bad-request``)."""
    skill = skill_of(element)
    props = manifest.parameters.get("properties", {})
    extra = set(element.attrib) - {"skill"}
    if extra:
        raise ProtocolError.bad_request(f"execute: unknown attribute(s) {sorted(extra)}")
    params = list(element)
    if len(params) > MAX_PARAMS:
        raise ProtocolError.bad_request(f"execute: more than {MAX_PARAMS} params")
    arguments: dict[str, Any] = {}
    for param in params:
        if param.tag != q("param", NS_EXECUTE) or len(param):
            raise ProtocolError.bad_request("execute may contain only param elements with text")
        name = param.get("name")
        if not name or set(param.attrib) != {"name"}:
            raise ProtocolError.bad_request("a param needs a name attribute, and nothing else")
        if name in arguments:
            raise ProtocolError.bad_request(f"param {name[:64]!r} is given twice")
        prop = props.get(name) if isinstance(props, dict) else None
        if not isinstance(prop, dict):
            raise ProtocolError.bad_request(
                f"param {name[:64]!r} is not a parameter of {manifest.name}"
            )
        text = param.text or ""
        if len(text) > MAX_PARAM_CHARS:
            raise ProtocolError.bad_request(f"param {name!r} is over {MAX_PARAM_CHARS} chars")
        if prop.get("type") == "string":
            arguments[name] = text
            continue
        try:
            arguments[name] = json.loads(text)
        except ValueError:
            raise ProtocolError.bad_request(
                f"param {name!r}: {text[:40]!r} is not a JSON value (only string parameters "
                "are taken as plain text)"
            ) from None
    return ExecuteRequest(skill=skill, arguments=arguments)


def _output(parent: ET.Element, doc: Any) -> None:
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    attrs = {"type": "application/json"}
    if len(text) > MAX_OUTPUT_CHARS:
        attrs = {"type": "text/plain", "truncated": "true"}
        text = text[:MAX_OUTPUT_CHARS]
    ET.SubElement(parent, q("output", NS_EXECUTE), attrs).text = text


def result_element(skill: str, done: Executed) -> ET.Element:
    """The ``<result/>`` of a request that ran (ok or failed). Raises the ProtocolError of
    one that did not run, so the caller puts it in an IQ error or a result message."""
    o = done.outcome
    if o is None or done.incident is not None or o.answer is None:
        raise error_for(done)
    answer = o.answer
    status = "ok" if answer.ok else "failed"
    result = ET.Element(
        q("result", NS_EXECUTE), {"skill": skill, "request": o.request_id, "status": status}
    )
    if not answer.ok:
        reason = _FAILURE.get(answer.run.status, "exit")
        ET.SubElement(result, q("failure", NS_EXECUTE), {"reason": reason})
    _output(result, answer.as_json())
    return result


def error_element(skill: str, request_id: str | None, error: ProtocolError) -> ET.Element:
    """A deferred outcome that did not run: ``<result status='error'>`` with the error."""
    attrs = {"skill": skill, "status": "error"}
    if request_id is not None:
        attrs["request"] = request_id
    result = ET.Element(q("result", NS_EXECUTE), attrs)
    err = ET.SubElement(result, "error", {"type": error.etype})
    ET.SubElement(err, q(error.condition, NS_STANZAS))
    if error.app is not None:
        err.append(error.app)
    return result


def pending_element(c: Confirmation | Running) -> ET.Element:
    """The IQ answer while the outcome is not known: ``<pending reason='confirmation'/>`` while
    approvers decide, ``<pending reason='running'/>`` while a slow run goes on."""
    if isinstance(c, Running):
        return ET.Element(q("pending", NS_EXECUTE), {"request": c.request_id, "reason": "running"})
    return ET.Element(
        q("pending", NS_EXECUTE),
        {
            "request": c.request_id,
            "reason": "confirmation",
            "ref": c.ref,
            "expires": iso(c.expires_at),
        },
    )


def error_for(done: Executed) -> ProtocolError:
    """The XMPP error for a request that did not run (see the module's table)."""
    o = done.outcome
    if done.incident is not None or o is None:
        return ProtocolError(
            "internal-server-error",
            "wait",
            f"The agent could not handle this request (incident {done.incident}); nothing was run.",
        )
    if o.status == "invalid":
        return ProtocolError.bad_request(o.message[:500])
    if done.rate_limited:
        return ProtocolError(
            "resource-constraint", "wait", "Too many requests for now; try again later."
        )
    if done.queue_full:
        return ProtocolError(
            "resource-constraint",
            "wait",
            "Too many of your actions are waiting for confirmation; retry once some are "
            "answered or expired.",
        )
    if o.status == "denied":
        return ProtocolError("not-authorized", "auth", "The policy does not allow this request.")
    if o.status == "not_confirmed":
        trace = done.trace
        c = trace.confirmation if trace is not None else None
        ref = {"ref": c.ref} if c is not None else {}
        if trace is not None and trace.final is State.EXPIRED:
            app = ET.Element(q("expired", NS_CONFIRM), ref)
            return ProtocolError("not-acceptable", "cancel", "Nobody approved it in time.", app=app)
        app = ET.Element(q("denied", NS_CONFIRM), ref)
        return ProtocolError("not-acceptable", "cancel", "An approver said no.", app=app)
    return ProtocolError("undefined-condition", "cancel", "The request did not complete.")
