"""Time per processing stage, from each service's own ``/metrics``.

Every service observes its stages into ``iplos_stage_duration_seconds{service,stage}`` (services.kit.metrics);
a scrape before the run and one after give, per stage, the seconds spent and how many times it ran in between.
Whatever stages a service declares are read: the bench knows none by name.

With several workers per service each worker has its own metrics, and a scrape reaches one of them: the
figures are then that worker's alone (the result says so).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Final

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["StageTotals", "scrape_stages", "stage_difference"]

_FAMILY: Final = "iplos_stage_duration_seconds"


@dataclass(frozen=True)
class StageTotals:
    seconds: float
    count: int


def scrape_stages(url: str, token: str, verify: ssl.SSLContext) -> dict[str, StageTotals]:
    """The service's stage sums and counts so far, by stage."""
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, verify=verify, timeout=30)
    response.raise_for_status()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != _FAMILY:
            continue
        for sample in family.samples:
            stage = sample.labels.get("stage")
            if stage is None:
                continue
            if sample.name == f"{_FAMILY}_sum":
                sums[stage] = sample.value
            elif sample.name == f"{_FAMILY}_count":
                counts[stage] = sample.value
    return {stage: StageTotals(sums[stage], int(counts.get(stage, 0))) for stage in sorted(sums)}


def stage_difference(before: dict[str, StageTotals], after: dict[str, StageTotals]) -> dict[str, StageTotals]:
    """What each stage spent between two scrapes."""
    zero = StageTotals(0.0, 0)
    return {
        stage: StageTotals(total.seconds - before.get(stage, zero).seconds, total.count - before.get(stage, zero).count)
        for stage, total in after.items()
    }
