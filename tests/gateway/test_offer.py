"""could_allow: which skills a requester's policy could ever allow (no sandbox needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.gateway import could_allow
from host.policy.loader import PolicySet, load_policy_dir

POLICY = """
[[rule]]
id = "echo-team"
skills = ["echo"]
requesters = ["domain:team.example"]
effect = "allow"

[[rule]]
id = "echo-not-eve"
skills = ["echo"]
requesters = ["eve@team.example"]
effect = "deny"
reason = "not eve"

[[rule]]
id = "calc-limited"
skills = ["calc"]
requesters = ["*"]
effect = "allow"
[rule.args.expression]
max_length = 10

[[rule]]
id = "calc-no-long"
skills = ["calc"]
requesters = ["*"]
effect = "deny"
reason = "no"
[rule.args.expression]
one_of = ["1+1"]

[[rule]]
id = "room-only"
skills = ["clock"]
requesters = ["room:lab@conference.example"]
effect = "allow"

[[rule]]
id = "protocol-only"
skills = ["fs.*"]
requesters = ["ann@team.example"]
origins = ["protocol"]
effect = "allow"
"""


@pytest.fixture
def policy(tmp_path: Path) -> PolicySet:
    (tmp_path / "main.toml").write_text(POLICY)
    return load_policy_dir(tmp_path)


@pytest.mark.parametrize(
    ("skill", "requester", "origins", "expected"),
    [
        ("echo", "ann@team.example", {"chat"}, True),
        ("echo", "ANN@team.example", {"chat"}, True),
        ("echo", "eve@team.example", {"chat", "room", "protocol"}, False),
        ("echo", "zed@other.example", {"chat"}, False),
        # A deny that only some arguments meet does not hide the skill.
        ("calc", "zed@other.example", {"chat"}, True),
        # Room rules apply to whoever speaks in the room: offered where rooms are considered.
        ("clock", "zed@other.example", {"room"}, True),
        ("clock", "zed@other.example", {"protocol"}, False),
        ("fs.read", "ann@team.example", {"protocol"}, True),
        ("fs.read", "ann@team.example", {"chat"}, False),
        ("web.search", "ann@team.example", {"chat", "protocol"}, False),
    ],
)
def test_could_allow(
    policy: PolicySet, skill: str, requester: str, origins: set[str], expected: bool
) -> None:
    assert could_allow(policy, skill, requester, origins) is expected
