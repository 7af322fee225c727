"""An upload's work folder (``<state>/work/incoming-<id>/``), owned by the process sealing into it, and the sweep
that removes only folders whose owner is gone.

Several gateway processes share one state folder, and each sweeps ``work/`` when it starts: a process that a
supervisor restarts after a crash must not take the folder of an upload another process is sealing this moment.
So the owner holds an exclusive ``flock`` on ``incoming-<id>.lock`` (beside the folder) from before the folder
exists until it is gone (moved into the outbox or removed); the kernel drops the lock when the owner dies,
however it dies. The sweep tries each lock without waiting and removes only what it could lock.

The lock file is outside the folder so that it exists, locked, before the folder does: a sweep can never see a
folder whose owner has not locked it yet. The owner checks after locking that its lock file is still the one at
the path (a sweep may have removed it between the open and the lock), and the sweep removes a lock file only
while it holds it, so two holders can never both think a folder theirs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Final

import structlog

__all__ = ["INCOMING_PREFIX", "WorkFolder", "sweep_abandoned"]

INCOMING_PREFIX: Final = "incoming-"
_LOCK_SUFFIX: Final = ".lock"
log = structlog.get_logger("gateway")


class WorkFolder:
    """``work_dir/incoming-<message_id>``, locked by this process until :meth:`release`."""

    def __init__(self, work_dir: Path, message_id: str) -> None:
        """Lock the folder's name; the folder itself is made by :meth:`make`. Raises ``FileExistsError`` if the
        name is taken (a sweep holds it this moment: the caller draws another id)."""
        self.path = work_dir / f"{INCOMING_PREFIX}{message_id}"
        self._lock_path = _lock_path(self.path)
        work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(self._lock_path).st_ino:
                raise FileNotFoundError  # swept between the open and the lock: not ours
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            raise FileExistsError(f"the work folder {self.path.name} is taken") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def make(self) -> Path:
        self.path.mkdir()
        return self.path

    def release(self) -> None:
        """Remove the folder if it is still here (it was not moved into the outbox), then the lock."""
        if self._fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self._lock_path.unlink()
        os.close(self._fd)  # the lock goes with the descriptor
        self._fd = None

    def __del__(self) -> None:
        # Dropped without release (a test that seals by hand): let the lock go; the folder is the sweep's then.
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)  # type: ignore[arg-type]

    def __enter__(self) -> WorkFolder:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def sweep_abandoned(work_dir: Path) -> int:
    """Remove the work folders (and lock files) of uploads whose process is gone; leave those of live ones.
    Returns how many were removed."""
    if not work_dir.exists():
        return 0
    names = {
        entry.name.removesuffix(_LOCK_SUFFIX) for entry in work_dir.iterdir() if entry.name.startswith(INCOMING_PREFIX)
    }
    removed = 0
    for name in sorted(names):
        folder = work_dir / name
        lock_path = _lock_path(folder)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its owner is at work
        try:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()  # while holding it: an owner that opened this file finds it replaced
        finally:
            os.close(fd)
    if removed:
        log.warning("work folders of uploads that never finished removed", folders=removed)
    return removed


def _lock_path(folder: Path) -> Path:
    return folder.with_name(folder.name + _LOCK_SUFFIX)
