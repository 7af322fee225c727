"""What the supervisor and the bench read of the chain's processes from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["PROC", "children", "is_uvicorn_worker", "listener_pids", "live_pids", "process_group", "stat_fields"]

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


_LISTEN: Final = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def listener_pids(port: int) -> set[int]:
    """The processes holding a socket that listens on TCP ``port`` (any address), as far as this user may see
    them (another user's processes' descriptors are not readable: they are left out)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: set[int] = set()
    if not wanted:
        return found
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if str(fd.readlink()) in wanted:
                    found.add(int(entry.name))
                    break
        except OSError:
            continue
    return found


def process_group(pid: int) -> int | None:
    """The process group of ``pid``, or None when it is gone."""
    fields = stat_fields(pid)
    return int(fields[2]) if fields is not None else None
