"""Signs of a municipality probing the chain with numbers it chose (issue 17, the chosen-number oracle).

Any municipality's token can make the TPF pseudonymise any number, and whoever reads the registry's database could
then find that person's records from every other municipality by the pseudonym. The chain cannot stop the probe
(the TPF must pseudonymise what a municipality reports, and the registry must join on pseudonyms), so it makes the
probe visible to the registry's operators, never to the municipality:

* ``never-resident``: a submission with at least ``never_resident_records`` records of persons the register knows
  and lists as never having lived in the reporting municipality (K040);
* ``tiny``: a submission of fewer persons than ``below_persons``, or than ``below_register_share`` of the persons the
  register's extract lists for the municipality and year, or than ``below_previous_share`` of the municipality's
  submission in effect for the year before (a probe is a few numbers, not a year's care recipients);
* ``oversized``: more persons than the register lists for the municipality and year, or more than
  ``above_previous_ratio`` times the year before's (numbers gathered from elsewhere).

Each is counted in ``iplos_suspicious_submissions_total{reason}`` (services/registry_intake/monitoring.py), which an
alert rule watches (deploy/monitoring/prometheus/alerts.yml: IplosSuspiciousSubmission).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, func, select

from services.registry_intake.models import SubmissionStatus, findings, register_extracts, submissions
from shared.iplos.controls import NEVER_RESIDENT

__all__ = [
    "NEVER_RESIDENT_REASON",
    "OVERSIZED",
    "REASONS",
    "TINY",
    "ProbeThresholds",
    "flagged_never_resident",
    "suspicion_reasons",
]

TINY: Final = "tiny"
OVERSIZED: Final = "oversized"
NEVER_RESIDENT_REASON: Final = "never-resident"
#: Every reason a submission is counted as suspicious for (the metric's label values).
REASONS: Final = (TINY, OVERSIZED, NEVER_RESIDENT_REASON)
_JUDGED: Final = (SubmissionStatus.ACTIVE.value, SubmissionStatus.HELD.value)


@dataclass(frozen=True, slots=True)
class ProbeThresholds:
    """The settings ``IPLOS_REGISTRY_PROBE_*`` (services/registry_intake/config.py)."""

    below_persons: int = 10
    below_register_share: float = 0.01
    below_previous_share: float = 0.5
    above_previous_ratio: float = 2.0
    never_resident_records: int = 1


def suspicion_reasons(
    conn: Connection, message_id: str, municipality: str, year: int, persons: int, thresholds: ProbeThresholds
) -> list[str]:
    """Why the care submission ``message_id`` just stored (or held) with ``persons`` records looks like a probe,
    against the register and the year before as they stand on ``conn``; empty if it does not."""
    registered = conn.execute(
        select(register_extracts.c.person_count).where(
            register_extracts.c.municipality == municipality,
            register_extracts.c.year == year,
            register_extracts.c.status == "active",
        )
    ).scalar_one_or_none()
    previous = conn.execute(
        select(submissions.c.record_count).where(
            submissions.c.municipality == municipality,
            submissions.c.year == year - 1,
            submissions.c.status == SubmissionStatus.ACTIVE.value,
        )
    ).scalar_one_or_none()
    reasons = []
    if (
        persons < thresholds.below_persons
        or (registered is not None and persons < thresholds.below_register_share * registered)
        or (previous is not None and persons < thresholds.below_previous_share * previous)
    ):
        reasons.append(TINY)
    if (registered is not None and persons > registered) or (
        previous is not None and persons > thresholds.above_previous_ratio * previous
    ):
        reasons.append(OVERSIZED)
    never_resident = conn.execute(
        select(func.count())
        .select_from(findings)
        .where(findings.c.submission_id == message_id, findings.c.code == NEVER_RESIDENT)
    ).scalar_one()
    if never_resident >= thresholds.never_resident_records:
        reasons.append(NEVER_RESIDENT_REASON)
    return reasons


def flagged_never_resident(conn: Connection, thresholds: ProbeThresholds) -> set[str]:
    """The active and held care submissions with at least ``never_resident_records`` K040 records: read before and
    after an extract's decision, the difference is what the extract flagged."""
    return set(
        conn.execute(
            select(findings.c.submission_id)
            .join(submissions, submissions.c.message_id == findings.c.submission_id)
            .where(findings.c.code == NEVER_RESIDENT, submissions.c.status.in_(_JUDGED))
            .group_by(findings.c.submission_id)
            .having(func.count() >= thresholds.never_resident_records)
        ).scalars()
    )
