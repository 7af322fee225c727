"""A stored record's function scores back as ``FunctionScore``s, from the two tables that hold them.

``function_assessments`` keeps a row per person and assessment day with a column per variable (ADR 0015);
``other_function_scores`` keeps a variable without a column a row per score. What comes back is every score that
was stored, ordered by day, then by the row of the day (``ordinal``), then by the variables' documented order, and
then the others in the order they were stored: the scores' order in the export is not kept, only their day and
variable.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.registry_intake.models import FUNCTION_COLUMNS, function_assessments, other_function_scores
from shared.iplos.model import FunctionScore

__all__ = ["stored_function_scores"]


def stored_function_scores(conn: Connection, submission_id: str, ref: str) -> tuple[FunctionScore, ...]:
    """Every function score stored for the record ``ref`` of the submission."""
    a = function_assessments.c
    rows = conn.execute(
        select(function_assessments)
        .where(a.submission_id == submission_id, a.ref == ref)
        .order_by(a.assessed_on, a.ordinal)
    ).mappings()
    scores = [
        FunctionScore(variable, row[column], row["assessed_on"])
        for row in rows
        for variable, column in FUNCTION_COLUMNS.items()
        if row[column] is not None
    ]
    o = other_function_scores.c
    others = conn.execute(
        select(o.variable, o.score, o.assessed_on).where(o.submission_id == submission_id, o.ref == ref).order_by(o.id)
    )
    scores += [FunctionScore(row.variable, row.score, row.assessed_on) for row in others]
    return tuple(scores)
