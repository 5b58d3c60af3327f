"""``python -m host.demo`` (``make demo``): tell the story; exit 0 when it completed as expected.

Options: ``--answer no`` shows the refusal (the file stays); ``--keep DIR`` runs in ``DIR`` and
leaves the logs, configuration and audit log there; ``--no-colour``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from host.demo.story import tell
from host.demo.transcript import Transcript
from host.errors import AirlockError


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every step happened, 1 when one did not, 130 on Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m host.demo", description=__doc__)
    parser.add_argument("--answer", choices=["yes", "no"], default="yes")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="run in DIR and keep it")
    parser.add_argument("--no-colour", action="store_true")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
    out = Transcript(sys.stdout, colour=False if args.no_colour else None)
    # SIGTERM (a CI timeout, `kill`) cleans up like Ctrl-C: Prosody and airlock serve stop.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        asyncio.run(tell(out, answer=args.answer, keep=args.keep))
    except KeyboardInterrupt:
        out.fail("interrupted; Prosody and airlock serve were stopped")
        return 130
    except AirlockError as exc:
        out.fail(str(exc))
        return 1
    except OSError as exc:  # a full disk, a missing tool: say it plainly, still non-zero
        out.fail(f"{type(exc).__name__}: {exc}")
        return 1
    out.step(f"the story completed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
