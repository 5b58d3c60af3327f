"""``urn:fluux:agent:0#skills``: the list of skills a requester's policy could ever allow.

::

    <query xmlns='urn:fluux:agent:0#skills'>
      <skill name='fs.delete' version='0.1.0' destructive='true'>
        <description>Delete one file ...</description>
        <parameters type='application/schema+json'>{"type":"object",...}</parameters>
        <result type='application/schema+json'>{...}</result>
      </skill>
    </query>

Which skills is the gateway's business (:meth:`host.gateway.PolicyGateway.offered`); this
module only writes them down.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from host.protocol.ns import NS_SKILLS, q
from host.skills.manifest import Manifest

__all__ = ["skills_query"]

SCHEMA_TYPE = "application/schema+json"


def _schema(parent: ET.Element, tag: str, schema: dict[str, Any]) -> None:
    text = json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    ET.SubElement(parent, q(tag, NS_SKILLS), {"type": SCHEMA_TYPE}).text = text


def skills_query(manifests: Iterable[Manifest]) -> ET.Element:
    """The ``<query/>`` result listing ``manifests``, in the order given."""
    query = ET.Element(q("query", NS_SKILLS))
    for m in manifests:
        attrs = {"name": m.name, "version": m.version}
        if m.destructive:
            attrs["destructive"] = "true"
        skill = ET.SubElement(query, q("skill", NS_SKILLS), attrs)
        ET.SubElement(skill, q("description", NS_SKILLS)).text = m.description
        _schema(skill, "parameters", m.parameters)
        if m.result is not None:
            _schema(skill, "result", m.result)
    return query
