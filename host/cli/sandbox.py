"""``airlock sandbox``: run a module in the sandbox by hand, and show what this machine enforces.

``airlock sandbox run MODULE`` prints one JSON :class:`~sandbox.spec.RunResult` and exits 0 when
its status is ``ok``, 1 for any other status, 2 for usage errors. ``airlock sandbox info`` prints
the kernel features the hardening layers can use here (``--json`` for the model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import get_args

import wasmtime

from host.errors import ConfigError, ModuleError
from sandbox.spec import (
    DEFAULT_FUEL,
    DEFAULT_MAX_INPUT_KB,
    DEFAULT_MAX_OUTPUT_KB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    Layer,
    Limits,
    Preopen,
    RunSpec,
)

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sandbox run`` and ``sandbox info``."""
    parser = subparsers.add_parser("sandbox", help="run a Wasm module in the sandbox by hand")
    sub = parser.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")

    run = sub.add_parser(
        "run",
        help="run a WASI command module and print its result as JSON",
        description="Run MODULE (.wasm, or .wat text) as a WASI preview1 command in the "
        "hardened sandbox. Nothing is inherited: the module sees exactly the input, --arg, "
        "--env and --dir given here. Exit status: 0 ok, 1 any other run status, 2 usage error.",
    )
    run.add_argument("module", type=Path, metavar="MODULE")
    run.add_argument("--input", metavar="FILE|-", help="file for the module's stdin (- = ours)")
    run.add_argument("--arg", action="append", default=[], metavar="A", help="argument (repeat)")
    run.add_argument(
        "--dir",
        action="append",
        default=[],
        metavar="HOST:GUEST[:ro|:rw]",
        help="make a host directory visible at GUEST (read-only unless :rw)",
    )
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("--fuel", type=int, help=f"CPU budget in fuel units (default {DEFAULT_FUEL})")
    run.add_argument(
        "--memory-mb", type=int, help=f"linear memory limit (default {DEFAULT_MEMORY_MB})"
    )
    run.add_argument(
        "--timeout-s", type=float, help=f"wall-clock limit in seconds (default {DEFAULT_TIMEOUT_S})"
    )
    run.add_argument(
        "--max-output-kb",
        type=int,
        help=f"cap on stdout and on stderr each (default {DEFAULT_MAX_OUTPUT_KB})",
    )
    run.add_argument(
        "--require",
        action="append",
        default=[],
        choices=get_args(Layer),
        metavar="LAYER",
        help=f"refuse to run unless the kernel enforces LAYER ({', '.join(get_args(Layer))})",
    )
    run.set_defaults(func=_run)

    info = sub.add_parser("info", help="what this machine's kernel can enforce")
    info.add_argument("--json", action="store_true", help="print the JSON model")
    info.set_defaults(func=_info)


def _dir(value: str) -> Preopen:
    parts = value.split(":")
    access = "ro"
    if len(parts) == 3 and parts[2] in {"ro", "rw"}:
        access = parts.pop()
    if len(parts) != 2 or not parts[0] or not parts[1].startswith("/"):
        raise ConfigError(
            f"--dir {value!r} is not HOST_PATH:GUEST_PATH[:ro|:rw]",
            hint="for example --dir ./data:/data or --dir /tmp/out:/out:rw",
        )
    host = Path(parts[0]).expanduser()
    if not host.is_dir():
        raise ConfigError(f"--dir: {host} is not a directory", hint="create it or fix the path")
    return Preopen(host_path=host.resolve(), guest_path=parts[1], access=access)


def _env(value: str) -> tuple[str, str]:
    name, sep, val = value.partition("=")
    if not sep or not name:
        raise ConfigError(f"--env {value!r} is not NAME=VALUE", hint="for example --env LANG=C")
    return name, val


def _input(source: str | None) -> bytes:
    cap = DEFAULT_MAX_INPUT_KB * 1024
    if source is None:
        return b""
    try:
        data = sys.stdin.buffer.read(cap + 1) if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(f"--input {source}: {exc.strerror}") from None
    if len(data) > cap:
        raise ConfigError(f"--input is larger than {DEFAULT_MAX_INPUT_KB} KiB")
    return data


def _limits(args: argparse.Namespace) -> Limits:
    given = {
        "fuel": args.fuel,
        "memory_mb": args.memory_mb,
        "timeout_s": args.timeout_s,
        "max_output_kb": args.max_output_kb,
    }
    try:
        return Limits(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise ConfigError(f"invalid limit: {exc}", hint="see airlock sandbox run --help") from None


def _module(path: Path, workdir: Path) -> Path:
    """``path`` itself for binary modules; a .wat file is converted into ``workdir`` first."""
    if not path.is_file():
        raise ModuleError(f"module {path} does not exist", hint="check the path")
    if path.suffix != ".wat":
        return path
    try:
        binary = wasmtime.wat2wasm(path.read_text(encoding="utf-8"))
    except (wasmtime.WasmtimeError, UnicodeDecodeError) as exc:
        raise ModuleError(f"{path} is not valid WebAssembly text: {exc}") from None
    out = workdir / (path.stem + ".wasm")
    out.write_bytes(binary)
    return out


def _run(args: argparse.Namespace) -> int:
    from sandbox import supervisor
    from sandbox.cache import ModuleCache

    with tempfile.TemporaryDirectory(prefix="airlock-run-") as tmp:
        spec = RunSpec(
            module=_module(args.module, Path(tmp)),
            input=_input(args.input),
            args=tuple(args.arg),
            env=tuple(_env(e) for e in args.env),
            dirs=tuple(_dir(d) for d in args.dir),
            limits=_limits(args),
            require=frozenset(args.require),
        )
        # One run: a fresh child is cheaper than starting a zygote and forking it.
        result = supervisor.run(spec, cache=ModuleCache())
    print(result.model_dump_json(indent=2))
    return EXIT_OK if result.ok else EXIT_FAILED


def _info(args: argparse.Namespace) -> int:
    from sandbox.info import probe

    support = probe()
    if args.json:
        print(json.dumps(support.model_dump(mode="json"), indent=2))
    else:
        print("\n".join(support.lines()))
    return EXIT_OK
