"""The seccomp filters are compiled by the supervisor and handed over: a forged set never loads.

A cold child started with a filter hand-off that is not what the supervisor seals (garbage, or a
program longer than the kernel takes) refuses to harden, reports why, and never reads its job.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from sandbox.framing import MAX_CONTROL_FRAME, read_body, write_body
from sandbox.processes import child_env
from sandbox.protocol import Failed, Setup, decode


def _set(base_instructions: int) -> str:
    program = {"bpf": base64.b64encode(bytes(8 * base_instructions)).decode(), "denied": []}
    return json.dumps({"base": {**program, "syscall": 317}, "run": {**program, "syscall": 317}})


FORGED = [
    (b"\x7fELF not a filter set", "the seccomp filters handed over are malformed"),
    # One instruction more than the kernel's BPF_MAXINSNS.
    (_set(4097).encode(), "a malformed seccomp filter (32776 bytes of BPF)"),
]


@pytest.mark.parametrize(("forged", "message"), FORGED, ids=["garbage", "too-long"])
def test_child_refuses_a_forged_filter_handoff(forged: bytes, message: str) -> None:
    filters = os.memfd_create("forged")
    os.write(filters, forged)
    child_in, to_child = os.pipe()
    from_child, child_out = os.pipe()
    command = [sys.executable, "-S", "-m", "sandbox.child", "--in", str(child_in)]
    command += ["--out", str(child_out), "--filters", str(filters)]
    proc = subprocess.Popen(
        command, pass_fds=(child_in, child_out, filters), env=child_env(), cwd="/"
    )
    for fd in (child_in, child_out, filters):
        os.close(fd)
    try:
        write_body(to_child, Setup().model_dump_json().encode())
        reply = decode(read_body(from_child, max_bytes=MAX_CONTROL_FRAME, deadline=None))
        assert isinstance(reply, Failed)
        assert reply.hardening is True
        assert message in reply.error
        assert proc.wait(timeout=30) == 1
    finally:
        proc.kill()
        proc.wait()
        os.close(to_child)
        os.close(from_child)
