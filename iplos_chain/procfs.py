"""What the supervisor and the bench read of the chain's processes from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["PROC", "children", "is_uvicorn_worker", "live_pids", "stat_fields"]

PROC: Final = Path("/proc")


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after ``comm`` (which may hold spaces and parentheses, so split after its
    last ")"): state is [0], ppid [1], pgrp [2], utime [11], stime [12], cutime [13], cstime [14]. None when the
    process is gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def live_pids() -> dict[int, list[str]]:
    """Every live (not zombie) process with its stat fields."""
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z":
                found[int(entry.name)] = fields
    return found


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    return sorted(child for child, fields in live_pids().items() if int(fields[1]) == pid)


def is_uvicorn_worker(pid: int) -> bool:
    """Whether ``pid`` is one of uvicorn's worker processes (multiprocessing's spawn), not its manager."""
    try:
        return b"spawn_main" in (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
