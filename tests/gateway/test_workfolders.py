"""An upload's work folder is its process's while it works on it (services/municipality_gateway/workfolders.py):
the start-up sweep of another process sharing the state folder removes only folders whose owner is gone.

An flock belongs to an open file description, so one process holding a folder and another sweeping are played
here by two opens in this process; two real gateway processes: tests/e2e/test_workers.py."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from services.municipality_gateway.workfolders import WorkFolder, sweep_abandoned

ID = "00000000-0000-4000-8000-00000000000a"


def test_a_folder_in_use_survives_the_sweep_and_goes_with_its_release(tmp_path: Path) -> None:
    work = WorkFolder(tmp_path, ID)
    (work.make() / "identity.part").write_bytes(b"sealing")
    assert sweep_abandoned(tmp_path) == 0
    assert (work.path / "identity.part").exists()
    work.release()
    assert list(tmp_path.iterdir()) == []


def test_the_folder_of_a_dead_owner_is_swept_with_its_lock(tmp_path: Path) -> None:
    work = WorkFolder(tmp_path, ID)
    work.make()
    assert work._fd is not None
    os.close(work._fd)  # the process died: the kernel lets its lock go, nothing else is tidied up
    work._fd = None
    assert sweep_abandoned(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_without_a_lock_file_is_nobody_s(tmp_path: Path) -> None:
    (tmp_path / f"incoming-{ID}").mkdir()  # left by a gateway from before the lock files
    assert sweep_abandoned(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_name_a_sweep_holds_is_not_taken(tmp_path: Path) -> None:
    lock = tmp_path / f"incoming-{ID}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(FileExistsError):
            WorkFolder(tmp_path, ID)
    finally:
        os.close(fd)


def test_a_lock_file_swept_between_open_and_lock_is_not_taken_for_the_owner_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / f"incoming-{ID}.lock"
    real_flock = fcntl.flock

    def swept_meanwhile(fd: int, operation: int) -> None:
        lock.unlink()  # a sweep removed the file this owner had just opened
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", swept_meanwhile)
    with pytest.raises(FileExistsError):
        WorkFolder(tmp_path, ID)
    assert not (tmp_path / f"incoming-{ID}").exists()
