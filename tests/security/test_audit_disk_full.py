"""When the audit log cannot be written, every record() raises and the file stays verifiable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.audit.log import AuditLog
from host.errors import AuditError
from tests.audit.conftest import verify

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for this test only (skips where mounting is not allowed)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_audit_disk_full_refuses_and_keeps_the_log_valid(small_tmpfs: Path) -> None:
    path = small_tmpfs / "audit.jsonl"
    log = AuditLog(path)
    written, error = 0, None
    for i in range(10_000):  # 64 KiB fills long before this bound
        try:
            log.record("run.result", request_id=f"r{i}", data={"pad": "x" * 400})
        except AuditError as exc:
            error = exc
            break
        written += 1
    assert error is not None
    assert error.message == f"cannot write audit log {path}: No space left on device"
    assert error.hint == "the host must not act until this is fixed"
    with pytest.raises(AuditError, match="No space left on device"):
        log.record("run.result", request_id="after", data={})  # stays failed: fail closed
    log.close()
    report = verify(path)
    assert (report.ok, report.records) == (True, written)


FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from host.audit.log import AuditLog
    from host.errors import AuditError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    log = AuditLog(Path(sys.argv[1]))
    n = 0
    try:
        for n in range(1000):
            log.record("run.result", request_id=f"r{n}", data={"pad": "x" * 300})
    except AuditError as exc:
        print(n, exc.message)
    """
)


def test_audit_file_size_limit_refuses(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    count, _, message = done.stdout.strip().partition(" ")
    assert message == f"cannot write audit log {path}: File too large"
    report = verify(path)
    assert (report.ok, report.records) == (True, int(count))
