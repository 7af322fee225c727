"""What the soak sent, what its threads share while it runs, and the figures it ends with."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

__all__ = ["VICTIMS", "Console", "RunState", "Sent", "SoakResult"]

#: The services the soak kills: all three (the gateway mid-upload and mid-delivery too).
VICTIMS: Final = ("gateway", "tpf", "registry")


class Console(Protocol):
    def print(self, *objects: Any, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class Sent:
    """One submission as the gateway accepted it."""

    submission_id: str
    municipality: str
    year: int
    sequence: int
    records: int
    index: int


@dataclass
class SoakResult:
    submissions: int = 0
    accepted: int = 0
    workers: int = 1
    faults: Counter[str] = field(default_factory=Counter)
    """SIGKILLs by service."""
    fault_kinds: Counter[str] = field(default_factory=Counter)
    """SIGKILLs by "<service> worker" (one worker process) and "<service> service" (manager and workers)."""
    uploads_retried: int = 0
    """Uploads sent again because the gateway died before it answered."""
    retries_already_accepted: int = 0
    """Of those, the ones the gateway had committed before it died: the retry was answered 409
    identical-resubmission naming that submission, which the soak then followed."""
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    partial_views: int = 0
    partial_details: list[str] = field(default_factory=list)
    polls: int = 0
    api_reads: int = 0
    db_reads: int = 0
    stored: int = 0
    refused_stale: int = 0
    multi_attempt: int = 0
    max_attempts: int = 0
    problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    state_dir: Path | None = None

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.partial_views or self.problems)

    def summary_lines(self) -> list[str]:
        per = ", ".join(f"{name} {self.faults[name]}" for name in VICTIMS)
        whole = sum(count for kind, count in self.fault_kinds.items() if kind.endswith(" service"))
        return [
            f"submissions:         {self.submissions} (accepted {self.accepted}; stored {self.stored},"
            f" refused as stale {self.refused_stale})",
            f"processes:           {self.workers} per service",
            f"faults injected:     {self.faults_injected} ({per}; SIGKILL; {whole} of the whole service,"
            f" {self.faults_injected - whole} of one worker)",
            f"uploads retried:     {self.uploads_retried} (the gateway died before answering;"
            f" {self.retries_already_accepted} had been accepted, and the retry was told which submission it was)",
            f"deliveries retried:  {self.multi_attempt} submissions needed more than one attempt"
            f" (max {self.max_attempts})",
            f"lost:                {len(self.lost)}",
            f"duplicated:          {len(self.duplicated)}",
            f"partial views seen:  {self.partial_views} (in {self.polls} polls: {self.api_reads} read the API,"
            f" {self.db_reads} the database)",
            f"other problems:      {len(self.problems)}",
            f"time:                {self.elapsed_s:.1f} s",
        ]


@dataclass
class RunState:
    """What the submitting, killing and watching threads share; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    faults_done: int = 0
    faults_over: threading.Event = field(default_factory=threading.Event)
    fault_counts: Counter[str] = field(default_factory=Counter)
    fault_kinds: Counter[str] = field(default_factory=Counter)
    uploading: threading.Event = field(default_factory=threading.Event)
    """Set while the submitting thread waits for the gateway's answer to an upload."""
    expected_records: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
