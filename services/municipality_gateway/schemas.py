"""The documents the gateway answers with, as the routes' response models (so OpenAPI shows their shapes).

The wire format is the one the gateway has always sent: the field names, their order, and null for a value not
known yet. Times are ``YYYY-MM-DDTHH:MM:SSZ`` strings (``shared.envelope.utc_timestamp``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.municipality_gateway.states import SubmissionState

__all__ = [
    "ControlReport",
    "Finding",
    "FindingCount",
    "Submission",
    "SubmissionAccepted",
    "SubmissionList",
    "submission_url",
]


def submission_url(submission_id: str) -> str:
    return f"/v1/submissions/{submission_id}"


class _Document(BaseModel):
    # The attribute docstrings below are the field descriptions in OpenAPI.
    model_config = ConfigDict(use_attribute_docstrings=True)


class _SubmissionFacts(_Document):
    """What a submission is from the moment it is accepted (the first fields of both documents, in this order)."""

    submission_id: str
    municipality: str
    year: int
    sequence: int
    """Orders the municipality-year's submissions at the registry (the acceptance time in milliseconds)."""
    records: int
    state: SubmissionState


class SubmissionAccepted(_SubmissionFacts):
    """202: the export is sealed, signed and in the durable outbox."""

    status_url: str
    """Where to follow it: ``GET`` this path (also the answer's ``Location``)."""


class Submission(_SubmissionFacts):
    """One submission, followed through the TPF to the registry's receipt."""

    attempts: int
    """Failed delivery attempts since it was queued (or last put back in the queue)."""
    last_error: str | None
    created_at: str
    updated_at: str
    forwarded_at: str | None
    """When the TPF took it into its own outbox (202), if it did."""
    receipt: dict[str, Any] | None = Field(
        description="The registry's signed receipt (docs/envelope-v1.md), exactly as signed: verify it against "
        "receipt_signature and the registry's key in the public-key directory"
    )
    receipt_signature: str | None


class SubmissionList(_Document):
    submissions: list[Submission]
    """Newest first."""


class FindingCount(_Document):
    code: str
    count: int
    severity: str
    title: str


class Finding(_Document):
    model_config = ConfigDict(use_attribute_docstrings=True, populate_by_name=True)

    bruker_nr: str | None = Field(
        alias="brukerNr",
        description="The record's brukerNr, mapped back from the registry's random reference here, in the"
        " municipality (null for a finding about the whole submission)",
    )
    code: str
    severity: str
    title: str
    field: str | None
    detail: str | None


class ControlReport(_Document):
    """The registry's control report, verified, opened with the municipality's key and mapped to brukerNr."""

    submission_id: str
    municipality: str
    year: int
    sequence: int
    records: int
    finding_count: int
    counts: list[FindingCount]
    findings: list[Finding]
    register_check: Literal["done", "pending"] | None = Field(
        default=None,
        description="done: the population register's extract of the municipality and year has judged the records"
        " (the register controls K032-K034); pending: not yet, their findings come when it arrives; null: the"
        " registry did not say",
    )


# --- the comparison statistics (issue 15) --------------------------------------------------------------------------


class ComparisonFigure(_Document):
    """A figure as the registry may show it: ``value`` null with ``note`` saying why."""

    model_config = ConfigDict(extra="forbid", strict=True)

    value: float | None
    note: Literal["suppressed", "no-data", "no-register"] | None = None
    """suppressed: fewer than 5 persons, or a figure that would give one such away; no-data: nothing to compute it
    from; no-register: no population register extract of the year to count inhabitants from."""


class AreaIndicators(_Document):
    """The indicators of one area (the municipality, its county, the country) in one year (docs/comparison.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    level: Literal["municipality", "county", "country"]
    code: str
    name: str
    year: int
    recipients: int | None
    per_1000: dict[str, dict[str, ComparisonFigure]]
    """Service type ('0': any service) -> age group (0-66, 67-79, 80-89, 90+, all) -> recipients per 1,000
    persons who lived in the area in the year."""
    share_80_plus: ComparisonFigure
    hours_mean: dict[str, ComparisonFigure]
    hours_median: dict[str, ComparisonFigure]
    share_long_term: ComparisonFigure
    score_mean: dict[str, ComparisonFigure]
    days_to_decision_median: ComparisonFigure
    share_individual_plan: ComparisonFigure
    findings_rate: dict[str, ComparisonFigure]


class ComparisonReport(_Document):
    """The registry's comparison statistics for a submission's municipality, verified and opened with its key."""

    submission_id: str
    municipality: str
    year: int
    areas: list[AreaIndicators]
    """The municipality, its county and the country, of the year and the year before (where the registry has data)."""
