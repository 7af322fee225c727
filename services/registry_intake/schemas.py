"""What the registry answers with, as pydantic models: the routes' ``response_model`` and the pages' documents.

The JSON on the wire is these models serialised, field by field in the order declared here (clients and tests
read that order), ``null`` kept. Timestamps are already text (``YYYY-MM-DDTHH:MM:SSZ``, the envelope's form)
when they get here, so nothing is reformatted on the way out. Person counts may be ``null``: suppressed below
:data:`~services.registry_intake.read.suppression.SUPPRESSION_THRESHOLD`.

The operator views' vocabularies (year status, row filters, sort keys) are listed once here, as the
``Literal`` types the API's parameters and the documents use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from services.registry_intake.models import SubmissionStatus
from shared.envelope import ComparisonHeader, Receipt, ReportHeader
from shared.iplos.municipalities import FIRST_YEAR

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "ORDERS",
    "REASON_PATTERN",
    "SORT_KEYS",
    "STATUS_FILTERS",
    "AuditTrail",
    "AuditTrailCheckpoint",
    "AuditTrailEntry",
    "FindingsByRule",
    "HistoryEntry",
    "IntakeByDay",
    "IntakeDay",
    "MunicipalityRow",
    "Order",
    "OverviewDeadline",
    "OverviewFilter",
    "OverviewQuery",
    "RecordFinding",
    "RecordFindings",
    "RecordsPerServiceType",
    "RuleStatistics",
    "SealedReport",
    "SequenceLiftRequest",
    "SequenceLiftResult",
    "ServiceTypeStatistics",
    "SignedReceipt",
    "SortKey",
    "StatusFilter",
    "SubmissionDetail",
    "SubmissionFacts",
    "SubmissionList",
    "SubmissionRuleFindings",
    "SubmissionView",
    "UnexpectedMunicipality",
    "YearCounts",
    "YearOverview",
    "YearStatus",
    "Years",
]

#: The last reporting year the operator views accept (the schema's bound for years elsewhere).
LAST_YEAR: Final = 2100

#: A municipality in a reporting year: nothing active, an active submission without findings, or with findings.
YearStatus = Literal["missing", "received", "findings"]
StatusFilter = Literal["all", "missing", "received", "findings", "replaced", "late", "overdue"]
SortKey = Literal["municipality", "name", "status", "received", "records", "findings", "replaced"]
Order = Literal["asc", "desc"]
STATUS_FILTERS: Final[tuple[StatusFilter, ...]] = get_args(StatusFilter)
SORT_KEYS: Final[tuple[SortKey, ...]] = get_args(SortKey)
ORDERS: Final[tuple[Order, ...]] = get_args(Order)


class _Document(BaseModel):
    # Strict: a value of the wrong type is a bug here, not something to coerce (a bool would become 1).
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


# --- receipts and submissions --------------------------------------------------------------------------------


class SignedReceipt(_Document):
    """The registry's signed receipt for a submission (spec section 7.7), as ``{receipt, signature}``."""

    receipt: Receipt
    signature: str
    """Ed25519 over the receipt's canonical form, base64."""


class SubmissionView(_Document):
    """A submission as operators and auditors see it in lists (no findings detail)."""

    submission_id: str
    municipality: str
    year: int
    sequence: int
    status: SubmissionStatus
    refusal_reason: str | None
    received_at: str
    bydel_nr: str | None
    records: int
    pseudonymised: int
    identities_refused: int
    findings: int | None
    errors: int | None
    warnings: int | None
    supersedes: str | None
    superseded_by: str | None


class SubmissionList(_Document):
    submissions: list[SubmissionView]


class SealedReport(_Document):
    """The control report of a stored submission: its signed header and the part sealed for the municipality."""

    header: ReportHeader
    signature: str
    part: str
    """The sealed report part, base64."""


class SealedComparison(_Document):
    """The comparison statistics of a stored submission's municipality: signed header, part sealed for it."""

    header: ComparisonHeader
    signature: str
    part: str
    """The sealed comparison part, base64."""


# --- the year overview ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewQuery:
    """Filter and order of the overview's rows (the counts on top always cover every municipality)."""

    status: StatusFilter = "all"
    q: str = ""
    sort: SortKey = "municipality"
    order: Order = "asc"

    @classmethod
    def lenient(cls, status: str | None, q: str | None, sort: str | None, order: str | None) -> OverviewQuery:
        """From a page's query string: an unknown value falls back to the default instead of an error."""
        return cls(
            status=next((s for s in STATUS_FILTERS if s == status), "all"),
            q=(q or "").strip()[:100],
            sort=next((s for s in SORT_KEYS if s == sort), "municipality"),
            order=next((o for o in ORDERS if o == order), "asc"),
        )


class Years(_Document):
    years: list[int]
    default: int


class OverviewDeadline(_Document):
    last_day: str
    due: str
    days_left: int
    passed: bool


class YearCounts(_Document):
    expected: int
    received: int
    missing: int
    with_findings: int
    replaced: int
    held: int
    late: int
    overdue: int


class OverviewFilter(_Document):
    status: StatusFilter
    q: str
    sort: SortKey
    order: Order


class MunicipalityRow(_Document):
    municipality: str
    name: str
    status: YearStatus
    submission_id: str | None
    sequence: int | None
    received_at: str | None
    records: int | None
    records_suppressed: bool
    findings: int | None
    errors: int | None
    warnings: int | None
    replaced: int
    refused: int
    late: bool
    overdue: bool
    held: str | None
    """A submission waiting for the municipality's confirmation (far fewer persons than the active one)."""
    never_resident: int | None
    """Records of the active submission whose person the register knows but never lived in the municipality (K040,
    a sign of a probe of chosen numbers, issue 17): for operators only, null for an auditor or without one."""


class UnexpectedMunicipality(_Document):
    """Submissions under a municipality number that is not valid in the year."""

    municipality: str
    submissions: int
    active: bool


class YearOverview(_Document):
    year: int
    now: str
    deadline: OverviewDeadline
    counts: YearCounts
    records_total: int | None
    records_total_suppressed: bool
    suppression_threshold: int
    filter: OverviewFilter
    shown: int
    municipalities: list[MunicipalityRow]
    unexpected: list[UnexpectedMunicipality]


# --- statistics of a year ------------------------------------------------------------------------------------


class IntakeDay(_Document):
    day: str
    submissions: int
    refused: int
    first_submissions: int
    municipalities_so_far: int
    after_deadline: bool


class IntakeByDay(_Document):
    year: int
    expected: int
    deadline: str
    days: list[IntakeDay]


class RuleStatistics(_Document):
    """A rule of the catalogue over a year's active submissions (``severity`` ... ``rule`` null for a code the
    catalogue no longer has)."""

    code: str
    severity: str | None
    scope: str | None
    title: str | None
    rule: str | None
    findings: int | None
    persons: int | None
    submissions: int
    municipalities: int
    suppressed: bool
    rate: float | None


class FindingsByRule(_Document):
    year: int
    active_submissions: int
    records: int | None
    suppression_threshold: int
    rules: list[RuleStatistics]


class ServiceTypeStatistics(_Document):
    service_type: int
    name: str | None
    persons: int | None
    services: int | None
    suppressed: bool


class RecordsPerServiceType(_Document):
    year: int
    suppression_threshold: int
    service_types: list[ServiceTypeStatistics]


class FlowCounts(_Document):
    """Persons (null: 1-4, suppressed) of one area, between the year before and the year (read/flows.py)."""

    continuing: int | None
    new: int | None
    moved_in: int | None
    ended: int | None
    moved_out: int | None
    to_institution: int | None


class AreaFlows(_Document):
    area: str = Field(description="A kommuneNr, or 'national' (each person counted once)")
    flows: FlowCounts


class YearFlows(_Document):
    """Care recipients followed from one year to the next through the population register's links (issue 14)."""

    year: int
    previous_year: int
    suppression_threshold: int
    areas: list[AreaFlows]


class RegisterExtractRow(_Document):
    """The stored extract of one municipality's residents (counts only: the registry holds them by pseudonym)."""

    municipality: str
    sequence: int
    persons: int
    numbers: int = Field(description="Identity numbers listed (a person may have had several)")
    numbers_refused: int = Field(description="Numbers the TPF refused (no pseudonym; those persons cannot be joined)")
    received_at: str


class RegisterYear(_Document):
    """The population register's extracts the registry holds for one year (issue 14)."""

    year: int
    municipalities_expected: int | None = Field(description="Municipalities in SSB's list for the year")
    complete: bool = Field(
        description="Every municipality's extract is stored: only then is K035 (unknown to the register) decided"
    )
    extracts: list[RegisterExtractRow]


# --- one submission --------------------------------------------------------------------------------------------


class SubmissionFacts(SubmissionView):
    """A submission's view with what its own page adds."""

    sender: str
    payload_sha256: str
    key_version: int
    name: str | None
    late: bool


class SubmissionRuleFindings(_Document):
    code: str
    severity: str
    scope: str | None
    title: str | None
    rule: str | None
    findings: int
    records: int


class HistoryEntry(_Document):
    submission_id: str
    sequence: int
    status: SubmissionStatus
    refusal_reason: str | None
    received_at: str
    records: int
    findings: int | None
    supersedes: str | None
    superseded_by: str | None
    late: bool
    this: bool


class AuditTrailEntry(_Document):
    index: int
    event: str
    at: str
    facts: dict[str, Any]
    in_checkpoint: bool
    proof_verified: bool


class AuditTrailCheckpoint(_Document):
    tree_size: int
    root_hash: str
    created_at: str


class AuditTrail(_Document):
    log: str
    checkpoint: AuditTrailCheckpoint | None
    entries: list[AuditTrailEntry]


class SubmissionDetail(_Document):
    submission: SubmissionFacts
    deadline: str
    findings_withheld: bool
    findings_by_rule: list[SubmissionRuleFindings] | None
    history: list[HistoryEntry]
    receipt: SignedReceipt
    audit_trail: AuditTrail


class RecordFinding(_Document):
    ref: str | None
    code: str
    severity: str
    field: str | None
    detail: str | None


class RecordFindings(_Document):
    submission_id: str
    rule: str | None
    total: int
    offset: int
    limit: int
    findings: list[RecordFinding]


# --- the business register (issue 15) ----------------------------------------------------------------------------


class BusinessLoadView(_Document):
    """One bulk file of Enhetsregisteret loaded into the registry's copy."""

    load_id: str
    kind: Literal["enhet", "underenhet"]
    as_of: str = Field(description="The day the file was taken from the register (ISO date)")
    loaded_at: str
    loaded_by: str
    file_sha256: str
    unit_count: int = Field(description="Units the file listed")
    gone_count: int = Field(description="Units of the kind the copy held that the file no longer listed (deleted)")


class BusinessLoadResult(BusinessLoadView):
    """A load's answer: the load, and what it changed in the care submissions' findings."""

    findings_changed: dict[str, int] = Field(
        description="Business register findings (K036-K039) added or removed in active and held submissions, by code"
    )


class BusinessRegisterStatus(_Document):
    """What the registry's copy of Enhetsregisteret holds."""

    complete: bool = Field(description="Both kinds of unit are loaded: only then are K036-K039 judged")
    loads: list[BusinessLoadView] = Field(description="The latest loads, newest first")


# --- the comparison statistics (issue 15) --------------------------------------------------------------------------


class FigureDoc(_Document):
    """A figure as it may be shown: ``value`` null with ``note`` saying why."""

    value: float | None
    note: Literal["suppressed", "no-data", "no-register"] | None = Field(
        default=None,
        description="suppressed: fewer than 5 persons, or a figure that would give one such away; no-data: nothing to "
        "compute it from; no-register: no population register extract of the year to count inhabitants from",
    )


class AreaComparison(_Document):
    """The indicators of one area (a municipality, a county, the country) in one year (docs/comparison.md)."""

    level: Literal["municipality", "county", "country"]
    code: str
    name: str
    year: int
    recipients: int | None = Field(description="Recipients with a known age (null: 1-4)")
    per_1000: dict[str, dict[str, FigureDoc]] = Field(
        description="Service type ('0': any service) -> age group (0-66, 67-79, 80-89, 90+, all) -> recipients per "
        "1,000 persons who lived in the area in the year"
    )
    share_80_plus: FigureDoc = Field(description="Recipients aged 80 and over, per cent of recipients")
    hours_mean: dict[str, FigureDoc] = Field(description="Service type (15, 1) -> mean hours per week per service line")
    hours_median: dict[str, FigureDoc] = Field(description="Service type (15, 1) -> median hours per week")
    share_long_term: FigureDoc = Field(description="Recipients with a long-term stay (21), per cent of recipients")
    score_mean: dict[str, FigureDoc] = Field(
        description="home / institution -> mean need-for-assistance score (1-5) on the latest assessment"
    )
    days_to_decision_median: FigureDoc = Field(description="Median days from application to decision")
    share_individual_plan: FigureDoc = Field(description="Recipients with an individual plan, per cent")
    findings_rate: dict[str, FigureDoc] = Field(description="Control code -> records with a finding of it, per cent")


class ComparisonYear(_Document):
    """The comparison statistics of every area with data in one year: the national picture (issue 15)."""

    year: int
    suppression_threshold: int
    areas: list[AreaComparison]


# --- lifting a sequence block (operators) -------------------------------------------------------------------------

#: A reason as the audit log keeps it: a short reference (a case or ticket id, words joined by hyphens), never free
#: text, which could carry anything into a trail served to auditors (``shared.audit.entries``, fact ``reason``).
REASON_PATTERN: Final = r"^[A-Za-z0-9:._/-]{3,100}$"


class SequenceLiftRequest(_Document):
    """Why an operator lifts a municipality-year's sequence block."""

    reason: str = Field(
        pattern=REASON_PATTERN,
        description="A short reference for the audit trail: a case or ticket id (3-100 of A-Z a-z 0-9 : . _ / -),"
        " not free text; never an identity number",
    )


class SequenceLiftResult(_Document):
    """What lifting a sequence block found and did; ``lifted`` false: nothing blocked, nothing changed."""

    municipality: str
    year: int
    lifted: bool = Field(description="A stored sequence blocked and was lifted (false: nothing to lift)")
    blocking_submission: str | None = Field(
        description="The submission whose sequence blocked: the active one, or a held one (then refused)"
    )
    lifted_sequence: int | None = Field(description="The sequence that blocked")
    floor: int | None = Field(description="The sequence the next submission must exceed (milliseconds since 1970)")
    held_discarded: list[str] = Field(description="Held submissions refused because their sequence blocked")
    lifted_by: str | None = Field(description="The operator's credential name, as on the audit entry")
    reason: str | None = Field(description="The reason, as on the audit entry")
