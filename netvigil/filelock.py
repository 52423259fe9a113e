"""An exclusive lock across processes on one machine: ``flock(2)`` on a lock file.

Used where processes that share a directory must take turns: appends to the audit chain by
coordinator partitions on several workers (``resolvers/audit.py``), and a lab taking its
management network (``lab/runner.py``). Advisory: only code that takes the lock is held.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["exclusive"]


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
