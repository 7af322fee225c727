"""CPU seconds and peak memory of a service's processes, from /proc (Linux).

Each service of the development chain runs in a process group of its own (``iplos_chain.supervisor``): its
uvicorn manager and, with several workers, the worker processes. A group's CPU time is the sum over its live
processes of ``utime + stime + cutime + cstime`` (the last two hold the children a process has reaped, so a
worker that died and was replaced still counts, in its manager's figure). Peak RSS is each process's
``VmHWM``, sampled while the run goes on because a worker may be replaced and take its high-water mark with it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Final

from iplos_chain import procfs

__all__ = ["GroupPeaks", "PeakWatch", "ProcessPeak", "family_cpu_s", "group_cpu_s", "group_pids", "postmaster_pid"]

_TICKS: Final = os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    return sorted(pid for pid, fields in procfs.live_pids().items() if int(fields[2]) == pgid)


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children) of the processes of group ``pgid`` so far."""
    ticks = sum(_own_and_reaped_ticks(fields) for fields in procfs.live_pids().values() if int(fields[2]) == pgid)
    return ticks / _TICKS


def _own_and_reaped_ticks(fields: list[str]) -> int:
    return sum(int(value) for value in fields[11:15])


def family_cpu_s(root: int) -> float:
    """CPU seconds of process ``root`` and its live children, with what each reaped (a PostgreSQL server: the
    postmaster starts each backend in a session of its own, so its process group does not hold them)."""
    family = procfs.live_pids().items()
    ticks = sum(_own_and_reaped_ticks(fields) for pid, fields in family if root in (pid, int(fields[1])))
    return ticks / _TICKS


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's first process (``postgres`` started by init), if this machine runs one."""
    for pid, fields in sorted(procfs.live_pids().items()):
        if fields[1] != "1":
            continue
        try:
            comm = (procfs.PROC / str(pid) / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "postgres":
            return pid
    return None


def _hwm_kb(pid: int) -> int | None:
    try:
        for line in (procfs.PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _role(pid: int, pgid: int, several: bool) -> str:
    if pid == pgid:
        return "manager" if several else "process"
    return "worker" if procfs.is_uvicorn_worker(pid) else "child"


@dataclass
class ProcessPeak:
    pid: int
    role: str
    """``process`` (a service run without workers), ``manager``, ``worker`` or ``child`` (anything else)."""
    hwm_mb: float


@dataclass
class GroupPeaks:
    """Every process seen in one service's group, with its highest VmHWM seen."""

    processes: dict[int, ProcessPeak] = field(default_factory=dict)

    @property
    def peak(self) -> ProcessPeak | None:
        return max(self.processes.values(), key=lambda p: p.hwm_mb, default=None)


class PeakWatch:
    """Samples the VmHWM of every process of each group every ``interval_s`` in a thread of its own, from
    :meth:`start` until :meth:`stop` (which takes one last sample)."""

    def __init__(self, groups: dict[str, int], *, several_workers: bool, interval_s: float = 0.25) -> None:
        self.groups = groups
        self.peaks = {name: GroupPeaks() for name in groups}
        self._several = several_workers
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-peaks", daemon=True)

    def sample(self) -> None:
        for name, pgid in self.groups.items():
            seen = self.peaks[name].processes
            for pid in group_pids(pgid):
                kb = _hwm_kb(pid)
                if kb is None:
                    continue
                known = seen.get(pid)
                if known is None:
                    seen[pid] = ProcessPeak(pid, _role(pid, pgid, self._several), kb / 1024)
                elif kb / 1024 > known.hwm_mb:
                    known.hwm_mb = kb / 1024

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
