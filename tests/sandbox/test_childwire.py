"""The sandbox processes' stdlib codec agrees with the pydantic models, the wire's spec.

Child -> supervisor: every body the cold child, the zygote or a run child encodes validates
against :mod:`sandbox.protocol`. Supervisor -> child: every model the supervisor dumps decodes
to the same values in the child. Also: neither the cold child nor the zygote ever imports
pydantic (the point of the codec), nor pyseccomp (the supervisor compiles the filters).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import childwire
from sandbox.childwire import PlainDone, PlainLimits, PlainPreopen
from sandbox.framing import ProtocolError
from sandbox.harden.shapes import PlainEnforcement, PlainPlan, PlainRlimits
from sandbox.processes import child_env
from sandbox.protocol import (
    Compiled,
    Done,
    Failed,
    Forked,
    HostCall,
    HostReply,
    Job,
    Ready,
    Reaped,
    Setup,
    ZygoteReady,
    decode,
)
from sandbox.spec import Enforcement, Limits, Preopen, Status

ODD_BYTES = bytes(range(256)) * 3  # every byte value, so both base64 alphabets' extras appear
LIMITS = Limits(fuel=5, memory_mb=7, timeout_s=1.5, max_output_kb=9, max_host_calls=0)


def test_child_encodings_validate_against_the_models() -> None:
    enforcement = PlainEnforcement(
        landlock_abi=7,
        landlock_rules=["fs", "net"],
        no_new_privs=True,
        capabilities_dropped=True,
        seccomp=True,
        seccomp_denied=["socket"],
        rlimits={"as": 1},
        notes=["x: y"],
    )
    done = PlainDone(Status.EXIT_NONZERO, 3, ODD_BYTES, b"err", 11, 65536, "exit 3")
    cases = [
        (childwire.ready(enforcement), Ready(enforcement=Enforcement(**vars(enforcement)))),
        (childwire.compiled(ODD_BYTES), Compiled(artifact=ODD_BYTES)),
        (childwire.host_call(ODD_BYTES), HostCall(request=ODD_BYTES)),
        (childwire.done(done), Done(**dataclasses.asdict(done))),
        (childwire.done(PlainDone(Status.OK)), Done(status=Status.OK)),
        (childwire.failed("no", hardening=True), Failed(error="no", hardening=True)),
        (
            childwire.zygote_ready(enforcement, 41),
            ZygoteReady(enforcement=Enforcement(**vars(enforcement)), pid=41),
        ),
        (childwire.forked(42), Forked(pid=42)),
        (childwire.reaped(42, 9, 2048), Reaped(pid=42, wait_status=9, maxrss_kb=2048)),
    ]
    for body, expected in cases:
        assert decode(body) == expected


def test_child_decodes_what_the_supervisor_dumps() -> None:
    setup = Setup(ro_paths=("/a",), rw_paths=("/b",), limits=LIMITS, require=("seccomp",))
    plain_setup = childwire.decode_setup(setup.model_dump_json().encode())
    assert plain_setup == childwire.PlainSetup(
        ("/a",), ("/b",), PlainLimits(5, 7, 1.5, 9, 0), ("seccomp",)
    )

    job = Job(
        module=ODD_BYTES,
        module_name="m.wasm",
        artifact=b"\xff\xfe",
        input=b"in",
        args=("a", "b"),
        env=(("K", "V"),),
        dirs=(Preopen(host_path=Path("/srv"), guest_path="/data", access="rw"),),
        limits=LIMITS,
        host_calls=True,
    )
    assert childwire.decode_job(job.model_dump_json().encode()) == childwire.PlainJob(
        module=ODD_BYTES,
        module_name="m.wasm",
        artifact=b"\xff\xfe",
        input=b"in",
        args=("a", "b"),
        env=(("K", "V"),),
        dirs=(PlainPreopen(Path("/srv"), "/data", "rw"),),
        limits=PlainLimits(5, 7, 1.5, 9, 0),
        host_calls=True,
    )
    reply = HostReply(reply=ODD_BYTES).model_dump_json().encode()
    assert childwire.decode_host_reply(reply) == ODD_BYTES


def test_defaults_match_the_models() -> None:
    assert dataclasses.asdict(PlainLimits()) == Limits().model_dump()
    assert childwire.decode_setup(b'{"kind":"setup"}') == childwire.PlainSetup()
    from sandbox.harden.plan import RlimitPlan

    assert dataclasses.asdict(PlainRlimits()) == RlimitPlan().model_dump()
    assert vars(PlainEnforcement()) == Enforcement().model_dump()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"kind":"job","module":"AA==","module_name":"m","unsafe":1}', "unknown field 'unsafe'"),
        (b'{"kind":"setup"}', "kind: expected 'job', got 'setup'"),
        (b'{"kind":"job","module":"%%","module_name":"m"}', "module: not base64"),
        (b'{"kind":"job","module":"AA==","module_name":"m","limits":{"fuel":true}}', "limits.fuel"),
        (b'{"kind":"job","module":"AA==","module_name":5}', "module_name: expected"),
        (
            b'{"kind":"job","module":"AA==","module_name":"m","dirs":[{"host_path":"/",'
            b'"guest_path":"/","access":"x"}]}',
            "'x' is neither 'ro' nor 'rw'",
        ),
        (b"\xff", "frame: not JSON"),
    ],
)
def test_child_refuses_malformed_jobs(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match="invalid frame from supervisor") as caught:
        childwire.decode_job(body)
    assert message in str(caught.value)


def test_unknown_layer_is_refused() -> None:
    with pytest.raises(ProtocolError, match="unknown layer 'landlock_everything'"):
        childwire.decode_setup(b'{"kind":"setup","require":["landlock_everything"]}')


def test_plain_plan_refuses_relative_grants() -> None:
    with pytest.raises(ValueError, match="grant path rel must be absolute"):
        PlainPlan(ro_paths=(Path("rel"),))


@pytest.mark.parametrize("module", ["sandbox.child", "sandbox.zygote"])
def test_sandbox_processes_never_import_pydantic_or_pyseccomp(module: str) -> None:
    # pyseccomp also brings subprocess, tempfile and ctypes.util (which runs ldconfig).
    heavy = ("pydantic", "pydantic_core", "pyseccomp", "subprocess", "ctypes.util")
    probe = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"
