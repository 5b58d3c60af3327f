"""``airlock skill``: the skill author's toolkit.

::

    airlock skill new NAME --lang c|zig|rust|wat [--dir D]   a working skill from a template
    airlock skill build [DIR...]        compile, check imports against the manifest, lock digest
    airlock skill test [DIR...]         run each skill's example cases in the real sandbox
    airlock skill inspect FILE.wasm     imports, exports, memory, digest, what it could ask for
    airlock skill list [ROOT]           installed skills and whether each is built
    airlock skill keygen KEYFILE        a new Ed25519 signing key (KEYFILE, KEYFILE.pub)
    airlock skill sign DIR --key KEY    sign a built skill's module (writes <module>.sig)
    airlock skill verify DIR --trust PUB...   check a signature against trusted public keys

DIR is a skill folder (with skill.toml) or a folder of skill folders; without DIR, every skill
under ./skills_wasm. Exit status: 0 success, 1 a build or a case failed, 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from pathlib import Path
from typing import Any

from host.errors import SkillError
from host.skills.build import SDK, build
from host.skills.inspect import PAGE, inspect_module
from host.skills.registry import MANIFEST_FILE, Skill, SkillRegistry, load_skill
from host.skills.sign import (
    keygen,
    load_private,
    sign_module,
    signature_path,
    verify_skill,
)
from host.skills.testing import Runner, run_examples, warm_runner

DEFAULT_ROOT = Path("skills_wasm")
LANGS = ("c", "zig", "rust", "wat")


def register(subparsers: Any) -> None:
    """Add ``airlock skill`` and its subcommands."""
    parser = subparsers.add_parser("skill", help="build, test, inspect and sign Wasm skills")
    sub = parser.add_subparsers(dest="skill_command", required=True, metavar="SUBCOMMAND")

    new = sub.add_parser("new", help="create a skill folder from a working template")
    new.add_argument("name", help="skill name, e.g. text.count")
    new.add_argument("--lang", choices=LANGS, required=True)
    new.add_argument("--dir", type=Path, default=DEFAULT_ROOT, help="parent folder")
    new.set_defaults(func=cmd_new)

    for name, func, text in (
        ("build", cmd_build, "compile skills and record their digests"),
        ("test", cmd_test, "run skills' example cases in the sandbox"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("dirs", nargs="*", type=Path, metavar="DIR")
        p.set_defaults(func=func)

    ins = sub.add_parser("inspect", help="describe a Wasm module")
    ins.add_argument("file", type=Path)
    ins.set_defaults(func=cmd_inspect)

    lst = sub.add_parser("list", help="list installed skills")
    lst.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    lst.set_defaults(func=cmd_list)

    kg = sub.add_parser("keygen", help="create an Ed25519 signing key")
    kg.add_argument("keyfile", type=Path)
    kg.set_defaults(func=cmd_keygen)

    sg = sub.add_parser("sign", help="sign a built skill's module")
    sg.add_argument("dir", type=Path)
    sg.add_argument("--key", type=Path, required=True)
    sg.set_defaults(func=cmd_sign)

    vf = sub.add_parser("verify", help="verify a skill's signature against trusted keys")
    vf.add_argument("dir", type=Path)
    vf.add_argument("--trust", type=Path, action="append", required=True, metavar="PUBFILE")
    vf.set_defaults(func=cmd_verify)


def skill_dirs(dirs: list[Path]) -> list[Path]:
    """Expand DIR arguments into skill folders (a folder of skill folders counts as all)."""
    found: list[Path] = []
    for d in dirs or [DEFAULT_ROOT]:
        if (d / MANIFEST_FILE).is_file():
            found.append(d)
            continue
        inner = sorted(p.parent for p in d.glob(f"*/{MANIFEST_FILE}"))
        if not inner:
            raise SkillError(f"{d} is not a skill folder and holds none (no {MANIFEST_FILE})")
        found.extend(inner)
    return found


def cmd_new(args: argparse.Namespace) -> int:
    name: str = args.name
    if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", name):
        raise SkillError(f"{name!r} is not a skill name", hint="lower case, dots, e.g. text.count")
    folder: Path = args.dir / name.replace(".", "_")
    if folder.exists():
        raise SkillError(f"{folder} already exists")
    template = SDK / args.lang / "template"
    shutil.copytree(template, folder)
    for path in folder.iterdir():
        if path.is_file():
            path.write_text(path.read_text("utf-8").replace("{{name}}", name), "utf-8")
    print(
        f"created {folder}: edit it, then `airlock skill build {folder}` and `airlock skill "
        f"test {folder}`"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    failed = 0
    for folder in skill_dirs(args.dirs):
        start = time.monotonic()
        try:
            built = build(folder)
        except SkillError as exc:
            print(f"FAIL  {folder}: {exc}")
            failed += 1
            continue
        took = time.monotonic() - start
        print(
            f"ok    {built.skill.name:<16} {built.info.size:>8} bytes  "
            f"sha256:{built.info.sha256[:16]}  {took:5.1f}s  {built.toolchain}"
        )
        for warning in built.warnings:
            print(f"      warning: {warning}")
    return 1 if failed else 0


def cmd_test(args: argparse.Namespace) -> int:
    with warm_runner() as runner:
        passed, failed = _test_all(skill_dirs(args.dirs), runner)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _test_all(folders: list[Path], runner: Runner) -> tuple[int, int]:
    passed = failed = 0
    for folder in folders:
        skill = load_skill(folder)
        try:
            reports = run_examples(skill, runner)
        except SkillError as exc:
            print(f"FAIL  {skill.name}: {exc}")
            failed += 1
            continue
        for report in reports:
            if report.passed:
                passed += 1
                print(f"ok    {report.skill}: {report.case}")
            else:
                failed += 1
                print(f"FAIL  {report.skill}: {report.case}")
                for problem in report.problems:
                    print(f"      {problem}")
    return passed, failed


def cmd_inspect(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise SkillError(f"cannot read {args.file}: {exc.strerror}") from None
    info = inspect_module(data)
    print(f"module   {args.file}")
    print(f"sha256   {info.sha256}")
    print(f"size     {info.size} bytes")
    print(f"kind     {'WASI command (_start)' if info.is_command else 'not a WASI command'}")
    if info.memory_min_pages is not None:
        top = (
            "no maximum"
            if info.memory_max_pages is None
            else (f"max {info.memory_max_pages * PAGE // 1024} KiB")
        )
        print(f"memory   min {info.memory_min_pages * PAGE // 1024} KiB, {top}")
    print("imports")
    for mod, name, kind in info.imports:
        print(f"  {mod}.{name} ({kind})")
    print("exports")
    for name, kind in info.exports:
        print(f"  {name} ({kind})")
    print("could ask for (the grant decides what it gets)")
    for power in info.powers() or ["nothing beyond stdin, stdout and stderr"]:
        print(f"  - {power}")
    for bad in info.foreign_imports():
        print(f"  ! imports {bad}, which the sandbox does not provide")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    registry = SkillRegistry.load(args.root)
    for skill in registry.all():
        print(
            f"{skill.name:<16} {skill.manifest.version:<8} {_state(skill):<10} "
            f"{'destructive' if skill.manifest.destructive else 'safe':<11} {_caps(skill)}"
        )
    return 0


def _state(skill: Skill) -> str:
    try:
        skill.module_sha256()
    except SkillError:
        return "not built" if not skill.module_path.exists() else "STALE"
    return "built"


def _caps(skill: Skill) -> str:
    caps = skill.manifest.capabilities
    parts = [f"{d.name}:{d.access}" for d in caps.dirs]
    parts += [f"http:{h.host}" for h in caps.http]
    parts += [f"secret:{s}" for s in caps.secrets]
    return " ".join(parts) or "-"


def cmd_keygen(args: argparse.Namespace) -> int:
    line = keygen(args.keyfile)
    print(f"private key: {args.keyfile} (mode 600; keep it off the host that runs skills)")
    print(f"public key:  {args.keyfile}.pub")
    print(line)
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    skill = load_skill(args.dir)
    data = skill.read_module()
    signature = sign_module(data, load_private(args.key))
    path = signature_path(skill.module_path)
    path.write_text(signature.model_dump_json(indent=2) + "\n", encoding="utf-8")
    print(
        f"signed {skill.name} ({signature.module_sha256[:16]}...) with key "
        f"{signature.key_id}: {path}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    skill = load_skill(args.dir)
    trusted = []
    for path in args.trust:
        try:
            trusted.append(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SkillError(f"cannot read public key {path}: {exc}") from None
    signer = verify_skill(skill, trusted)
    print(f"{skill.name}: signed by trusted key {signer}")
    return 0
