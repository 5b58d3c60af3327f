"""The native run core (sandbox/native/module.c); see sandbox/native/runcore.h."""

def configure(
    *,
    library: str,
    engine: int | None,
    run_in: int,
    run_out: int,
    ctl_out: int,
    abi: int,
    handled_fs: int,
    scoped: int,
    fs_read: int,
    fs_read_write: int,
    fs_dir_only: int,
    read_paths: list[str],
    run_filter: bytes | None,
    filter_syscall: int,
    runtime_as: int,
    cpu_grace_s: int,
    nofile: int,
    nproc: int,
    fsize: int,
    report_fields: str,
    notes: list[str],
    held: list[str],
    degraded: list[tuple[str, str]],
    defaults: tuple[int, int, float, int, int],
    trap_names: list[str],
) -> None: ...
def fork_spare() -> int: ...
def harden_here(setup: bytes, /) -> tuple[bool, bytes]: ...
def layouts() -> dict[str, int]: ...
