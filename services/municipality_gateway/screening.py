"""What the gateway checks about an export before it seals anything: whose it is, its year, and whether it is a
file this gateway has already sent.

Each check reads only the export's start (or hashes it as bytes) and refuses with a problem document that
changes nothing. Sealing then validates the whole export; what it finds that only a whole read can show (an
export without persons) is refused after it, before anything is queued (:func:`refuse_empty`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO

from sqlalchemy import Engine, select

from services.kit.problems import Problem
from services.municipality_gateway.models import submissions
from shared.iplos.reader import ExportInvalid, read_export
from shared.iplos.reporting_year import FIRST_REPORTING_YEAR, current_reporting_year, year_out_of_range

__all__ = ["ExportFacts", "identical_submission", "refuse_empty", "refuse_year", "screen"]

_CHUNK = 1 << 20
# A submission in one of these states never reached the registry's data: sending the same file again is a retry.
_NOT_IN_EFFECT = ("refused", "rejected", "dead-letter")


@dataclass(frozen=True)
class ExportFacts:
    sha256: str
    """SHA-256 of the export's bytes as received."""
    municipality: str | None
    """kommuneNr and reporting year from the export's header; None when its start does not validate (sealing
    then reports the error in full, with line and element)."""
    year: int | None


def screen(body: IO[bytes]) -> ExportFacts:
    """Hash the spooled export and read its header; leaves ``body`` at its start."""
    digest = hashlib.sha256()
    body.seek(0)
    while chunk := body.read(_CHUNK):
        digest.update(chunk)
    body.seek(0)
    try:
        with read_export(body) as reader:
            municipality, year = reader.header.kommune_nr, reader.header.rapporteringsaar
    except ExportInvalid:
        municipality, year = None, None
    finally:
        body.seek(0)
    return ExportFacts(digest.hexdigest(), municipality, year)


def refuse_year(year: int | None) -> None:
    """A reporting year the register does not take (before its first year, or not yet begun)."""
    why = None if year is None else year_out_of_range(year)
    if why is not None:
        raise Problem(
            "reporting-year-out-of-range",
            422,
            f"The export's {why}; nothing was accepted",
            first_year=FIRST_REPORTING_YEAR,
            last_year=current_reporting_year(),
        )


def identical_submission(engine: Engine, facts: ExportFacts) -> tuple[str, str] | None:
    """The (id, state) of this municipality-year's newest submission in effect or on its way, if it was made
    from the very same bytes; None otherwise."""
    if facts.municipality is None or facts.year is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(submissions.c.message_id, submissions.c.state, submissions.c.export_sha256)
            .where(
                submissions.c.municipality == facts.municipality,
                submissions.c.year == facts.year,
                submissions.c.state.not_in(_NOT_IN_EFFECT),
            )
            .order_by(submissions.c.sequence.desc())
            .limit(1)
        ).first()
    if row is None or row.export_sha256 != facts.sha256:
        return None
    return row.message_id, row.state


def refuse_identical(engine: Engine, facts: ExportFacts) -> None:
    found = identical_submission(engine, facts)
    if found is not None:
        message_id, state = found
        raise Problem(
            "identical-resubmission",
            409,
            "This export is byte for byte the one already submitted for this municipality and year; nothing was"
            " accepted or changed",
            submission_id=message_id,
            state=state,
            status_url=f"/v1/submissions/{message_id}",
        )


def refuse_empty(record_count: int) -> None:
    """An export without persons would replace, and so erase, the municipality's year at the registry."""
    if record_count == 0:
        raise Problem(
            "empty-export",
            422,
            "The export has no persons (<personer/> is empty); it would erase the year's data, so nothing was accepted",
        )
