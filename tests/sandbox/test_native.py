"""The native run core (sandbox/native/): its ABI with wasmtime and its protocol side.

Behaviour (statuses, output, limits, host calls, grants) is tested through both paths by the
``runner`` fixture of test_supervisor.py and the security suite; here: what only the native
child can get wrong. Hostile frames are fed to real run children of a real zygote.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
import wasmtime._bindings as wt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import _runcore
from sandbox.child import CPU_GRACE_S, RUNTIME_ADDRESS_SPACE
from sandbox.framing import MAX_CONTROL_FRAME
from sandbox.processes import Zygote
from sandbox.protocol import Done, Failed, Ready, Setup, read_frame
from sandbox.spec import Limits, RunSpec
from sandbox.supervisor import Sandbox
from tests.sandbox.support import write_module

MIB = 1024 * 1024


def test_struct_layouts_match_the_wheels_bindings() -> None:
    # The core declares wasmtime's structs itself (the wheel ships no C headers); a wasmtime
    # upgrade that changes one must fail here, not corrupt memory in a run.
    expected = {
        "wasmtime_extern": ctypes.sizeof(wt.wasmtime_extern),
        "wasmtime_extern.of": wt.wasmtime_extern.of.offset,
        "wasmtime_func": ctypes.sizeof(wt.wasmtime_func),
        "wasmtime_memory": ctypes.sizeof(wt.wasmtime_memory),
        "wasmtime_instance": ctypes.sizeof(wt.wasmtime_instance),
        "wasmtime_val_raw": ctypes.sizeof(wt.wasmtime_val_raw),
        "wasm_byte_vec_t": ctypes.sizeof(wt.wasm_byte_vec_t),
    }
    assert _runcore.layouts() == expected


def test_trap_codes_the_core_names_are_wasmtimes() -> None:
    # run.c hard-codes these three; the rest it names from the list the zygote passes.
    assert wasmtime.TrapCode.STACK_OVERFLOW.value == 0
    assert wasmtime.TrapCode.INTERRUPT.value == 10
    assert wasmtime.TrapCode.OUT_OF_FUEL.value == 11


def test_the_run_child_reports_the_rlimits_its_run_planned(tmp_path: Path) -> None:
    module = write_module(tmp_path, "hello")
    with Sandbox() as box:
        result = box.run(RunSpec(module=module, limits=Limits(memory_mb=64, timeout_s=2.5)))
    assert result.status == "ok"
    assert result.enforcement.rlimits == {
        "as": RUNTIME_ADDRESS_SPACE + 2 * 64 * MIB,
        "cpu": 3 + CPU_GRACE_S,
        "nofile": 64,
        "nproc": 4096,
        "fsize": 64 * MIB,
        "core": 0,
    }


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    try:
        yield z
    finally:
        z.close()


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def _exchange(zygote: Zygote, *frames: bytes) -> tuple[list[object], int]:
    """Write ``frames`` to the next run child; return what it said and its wait status."""
    zygote.next_child()
    os.write(zygote.run_to, b"".join(_frame(f) for f in frames))
    said: list[object] = []
    deadline = time.monotonic() + 10
    while not said or isinstance(said[-1], Ready):
        try:
            said.append(read_frame(zygote.run_from, max_bytes=4 * MIB, deadline=deadline))
        except Exception as exc:  # the child hung up: its exit status says how
            said.append(exc)
            break
    reaped = zygote.settle(kill=False)
    return said, reaped.wait_status


SETUP = Setup(limits=Limits(timeout_s=2)).model_dump_json().encode()


def test_garbage_setup_is_refused_in_a_sentence(zygote: Zygote) -> None:
    said, status = _exchange(zygote, b'{"kind":"setup","ro_paths":[1]}')
    assert isinstance(said[0], Failed)
    assert said[0].error == "invalid frame from supervisor: ro_paths: expected text without NUL"
    assert said[0].hardening is False
    assert os.waitstatus_to_exitcode(status) == 1


def test_unknown_setup_field_is_refused(zygote: Zygote) -> None:
    said, _ = _exchange(zygote, b'{"kind":"setup","grant_everything":true}')
    assert isinstance(said[0], Failed)
    assert "unknown or repeated field 'grant_everything'" in said[0].error


def test_a_job_that_is_not_json_fails_after_ready(zygote: Zygote) -> None:
    said, status = _exchange(zygote, SETUP, b"\xff\xfe not json")
    assert isinstance(said[0], Ready)
    assert isinstance(said[1], Failed)
    assert said[1].error == "invalid frame from supervisor: frame: not JSON"
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_job_whose_module_is_not_wasm_is_an_invalid_module(zygote: Zygote) -> None:
    job = {"kind": "job", "module": "bm90IHdhc20=", "module_name": "x.wasm"}
    said, _ = _exchange(zygote, SETUP, json.dumps(job).encode())
    assert isinstance(said[1], Done)
    assert said[1].status == "invalid_module"
    assert said[1].error is not None
    assert "\\0asm magic bytes" in said[1].error


def test_a_nul_in_an_argument_is_refused(zygote: Zygote) -> None:
    job = {"kind": "job", "module": "AGFzbQEAAAA=", "module_name": "x.wasm", "args": ["a\u0000b"]}
    said, _ = _exchange(zygote, SETUP, json.dumps(job).encode())
    assert isinstance(said[1], Failed)
    assert said[1].error == "invalid frame from supervisor: args: expected text without NUL"


def test_nesting_past_the_depth_limit_is_not_json(zygote: Zygote) -> None:
    deep = b'{"kind":"job","args":' + b"[" * 100 + b"]" * 100 + b"}"
    said, _ = _exchange(zygote, SETUP, deep)
    assert isinstance(said[1], Failed)
    assert said[1].error == "invalid frame from supervisor: frame: not JSON"


json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
job_like = st.fixed_dictionaries(
    {"kind": st.just("job")},
    optional={
        "module": st.sampled_from(["AGFzbQEAAAA=", "", "!!", "AGFzbQ"]) | st.text(max_size=8),
        "module_name": st.text(max_size=8) | json_text,
        "artifact": st.none() | st.text(max_size=8),
        "input": st.sampled_from(["", "aGk=", "a", "===="]),
        "args": json_text,
        "env": json_text,
        "dirs": json_text,
        "limits": json_text,
        "host_calls": json_text,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=job_like.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=64))
def test_hostile_jobs_get_one_valid_answer_and_a_clean_exit(zygote: Zygote, body: bytes) -> None:
    # A Job is untrusted: whatever it holds, the child answers with one frame the supervisor's
    # strict models accept (Done or Failed) and exits by itself, never by a signal (a crash).
    said, status = _exchange(zygote, SETUP, body)
    assert isinstance(said[0], Ready)
    assert isinstance(said[1], Done | Failed), said[1]
    assert os.WIFEXITED(status), f"killed by signal {os.WTERMSIG(status)}"
    assert len(said) == 2
    assert zygote.run_channel_clean()


def test_control_frame_cap_applies_to_the_setup(zygote: Zygote) -> None:
    zygote.next_child()
    os.write(zygote.run_to, struct.pack(">I", MAX_CONTROL_FRAME + 1))
    reaped = zygote.settle(kill=False)
    assert os.waitstatus_to_exitcode(reaped.wait_status) == 0  # refused unread, no run
    assert zygote.run_channel_clean()
