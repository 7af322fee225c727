"""What the gateway refuses about an export besides its schema and the chain's limits: a year the register does not
take, the very file it has already sent, an export without persons.

Each refusal is a problem document that changes nothing. The first two are decided on the export's header (and its
bytes' digest), before anything is sealed; an export without persons only shows once the whole export has been read,
and is refused after sealing, before anything is queued. Who may submit for the export's municipality is the use
case's own check (``service.submit``). A free field that could carry an identity number to the registry (a
diagnosis code out of its form, nine digits in a row in an id or text: ``shared.iplos.free_fields``) is refused by
the reader, with the schema errors (``sealing.schema_problem``), so that ``iplos validate`` finds it offline too.
"""

from __future__ import annotations

from services.kit.problems import Problem, ProblemType
from shared.iplos.reporting_year import FIRST_REPORTING_YEAR, current_reporting_year, year_out_of_range

__all__ = ["identical_resubmission", "refuse_empty", "refuse_year"]


def refuse_year(year: int) -> None:
    """A reporting year the register does not take (before its first year, or not yet begun)."""
    why = year_out_of_range(year)
    if why is not None:
        raise Problem(
            ProblemType.REPORTING_YEAR_OUT_OF_RANGE,
            f"The export's {why}; nothing was accepted",
            first_year=FIRST_REPORTING_YEAR,
            last_year=current_reporting_year(),
        )


def identical_resubmission(submission_id: str, state: str) -> Problem:
    """The export is byte for byte the municipality-year's submission ``submission_id`` in effect or on its way."""
    return Problem(
        ProblemType.IDENTICAL_RESUBMISSION,
        "This export is byte for byte the one already submitted for this municipality and year; nothing was"
        " accepted or changed",
        submission_id=submission_id,
        state=state,
        status_url=f"/v1/submissions/{submission_id}",
    )


def refuse_empty(record_count: int) -> None:
    """An export without persons would replace, and so erase, the municipality's year at the registry."""
    if record_count == 0:
        raise Problem(
            ProblemType.EMPTY_EXPORT,
            "The export has no persons (<personer/> is empty); it would erase the year's data, so nothing was accepted",
        )
