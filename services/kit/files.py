"""Files that must survive a crash once a service has answered for them: written, flushed, fsynced."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

_BLOCK = 1 << 20


def write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def copy_durably(source: IO[bytes], path: Path) -> None:
    """Copy an open file from its start, fsynced, without holding it in memory."""
    source.seek(0)
    with path.open("wb") as handle:
        shutil.copyfileobj(source, handle, _BLOCK)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (POSIX needs the directory itself synced)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
