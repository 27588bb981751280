"""Atomic file writes: write a temp file next to the destination, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path next to ``dest``; rename it over ``dest`` if the block succeeds.

    Args:
        dest: Final file path; its folder is created if missing.

    Yields:
        The temporary path to write to (same folder, so the rename is atomic).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_text(dest: Path) -> Iterator[TextIO]:
    """Open ``dest`` for text writing atomically (UTF-8, fsynced before rename).

    Args:
        dest: Final file path.

    Yields:
        A text file handle; ``dest`` appears only after the block succeeds.
    """
    with atomic_path(dest) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
