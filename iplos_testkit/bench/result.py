"""The bench's figures, as JSON (``--json``) and as the checks ``--check`` applies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

from iplos_testkit.bench.processes import ProcessPeak
from iplos_testkit.bench.stages import StageTotals

__all__ = ["MAX_RATIO", "MAX_RSS_MB", "BenchResult", "ServiceFigures"]

#: Issue 13's targets on the 2-core machine: the chain in at most 3x one plain read, no process above 150 MB.
MAX_RATIO: Final = 3.0
MAX_RSS_MB: Final = 150.0


@dataclass
class ServiceFigures:
    cpu_s: float
    """User + system CPU seconds of the service's processes during the run (reaped children included)."""
    peak: ProcessPeak | None
    """The process with the highest VmHWM seen (pid, role, MB)."""
    processes: list[ProcessPeak]
    """Every process of the service seen during the run, with its VmHWM."""
    stages: dict[str, StageTotals]
    """Seconds and count per stage between the scrapes before and after the run."""
    stages_partial: bool
    """True with several workers: a scrape reaches one worker, so the stages are that worker's only."""


@dataclass
class BenchResult:
    options: dict[str, Any]
    machine: dict[str, Any]
    files: int
    persons: int
    bytes: int
    generation_s: float
    generation_cached: bool
    plain_read_s: float
    plain_read_cpu_s: float
    """The plain read's CPU seconds: on a shared machine its wall time grows with the load, its CPU much less."""
    plain_read_persons: int
    wall_s: float
    """From the first upload begun to the first list that showed every submission final."""
    accepted_s: float
    """From the first upload begun to the last upload answered 202."""
    client_cpu_s: float
    """CPU seconds of the bench's own process while it uploaded and waited (reading the files, TLS, polling):
    on a 2-core machine it competes with the services."""
    database_server_cpu_s: float | None
    """On PostgreSQL: CPU seconds of the local server's processes during the run (not in the services' figures;
    anything else using the server meanwhile counts too). None on SQLite, whose work is in the services'."""
    states: dict[str, int]
    """Final states, counted."""
    records_accepted: int
    """Persons the gateway counted in the uploads it accepted."""
    records_stored: int
    """Persons the registry's receipts say it stored."""
    services: dict[str, ServiceFigures] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Chain wall time over one plain read of the same files: the issue's figure of merit."""
        return self.wall_s / self.plain_read_s

    @property
    def cpu_s_total(self) -> float:
        return sum(s.cpu_s for s in self.services.values())

    @property
    def cpu_ratio(self) -> float:
        """The services' CPU seconds over the plain read's: the ratio's steadier companion on a loaded machine
        (with N cores free, a wall ratio of about cpu_ratio / N is the best the chain could do)."""
        return self.cpu_s_total / self.plain_read_cpu_s

    @property
    def persons_per_s(self) -> float:
        return self.persons / self.wall_s

    @property
    def all_stored(self) -> bool:
        return set(self.states) == {"stored"} and self.states["stored"] == self.files

    def problems(self) -> list[str]:
        """Why the run itself failed (empty when every file was stored with every person)."""
        found = []
        if not self.all_stored:
            found.append(f"not every submission was stored: {self.states}")
        if self.records_accepted != self.persons or self.records_stored != self.persons:
            found.append(
                f"{self.persons} persons written, {self.records_accepted} accepted, {self.records_stored} stored"
            )
        return found

    def check_failures(self, max_ratio: float = MAX_RATIO, max_rss_mb: float = MAX_RSS_MB) -> list[str]:
        """Where the run misses the targets (``--check``)."""
        failures = []
        if self.ratio > max_ratio:
            failures.append(f"ratio {self.ratio:.2f} is above {max_ratio}")
        for name, figures in self.services.items():
            if figures.peak is not None and figures.peak.hwm_mb > max_rss_mb:
                failures.append(f"{name} peak RSS {figures.peak.hwm_mb:.0f} MB is above {max_rss_mb:.0f} MB")
        return failures

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["ratio"] = self.ratio
        document["persons_per_s"] = self.persons_per_s
        document["cpu_s_total"] = self.cpu_s_total
        document["cpu_ratio"] = self.cpu_ratio
        return document
