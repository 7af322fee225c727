"""The fault kinds, and the one control code each must trigger."""

from __future__ import annotations

from enum import StrEnum

from shared.iplos import controls as c


class FaultKind(StrEnum):
    IDENTITY_REFUSED = "identity-refused"
    DUPLICATE_PERSON = "duplicate-person"
    BIRTH_YEAR = "birth-year"
    DATE_BEFORE_1900 = "date-before-1900"
    DEATH_AFTER_YEAR = "death-after-year"
    HOUSING_UNKNOWN = "housing-unknown"
    HOUSEHOLD_UNKNOWN = "household-unknown"
    ASSESSMENT_AFTER_YEAR = "assessment-after-year"
    SCORE_INVALID = "score-invalid"
    SCORE_REPEATED = "score-repeated"
    SERVICE_TYPE_UNKNOWN = "service-type-unknown"
    START_AFTER_END = "start-after-end"
    OUTSIDE_YEAR = "outside-year"
    DECISION_AFTER_START = "decision-after-start"
    DECISION_BEFORE_APPLICATION = "decision-before-application"
    HOURS_OUT_OF_RANGE = "hours-out-of-range"
    HOURS_MISSING = "hours-missing"
    HOURS_NOT_APPLICABLE = "hours-not-applicable"
    ORG_NR_MISSING = "org-nr-missing"
    ORG_NR_INVALID = "org-nr-invalid"
    ORG_NR_NOT_APPLICABLE = "org-nr-not-applicable"
    LONG_TERM_OVERLAP = "long-term-overlap"
    SERVICE_AFTER_DEATH = "service-after-death"
    DUPLICATE_SERVICE_ID = "duplicate-service-id"
    CONFLICTING_DECISIONS = "conflicting-decisions"
    REFUSAL_OR_COMPLAINT_AFTER_YEAR = "refusal-or-complaint-after-year"
    COERCION_START_AFTER_END = "coercion-start-after-end"
    # Found by the registry's copy of Enhetsregisteret, not by the payload controls (BUSINESS_KINDS).
    UNIT_NOT_IN_REGISTER = "unit-not-in-register"
    UNIT_DELETED = "unit-deleted"
    UNIT_NOT_CARE = "unit-not-care"
    UNIT_ELSEWHERE = "unit-elsewhere"


# The one control code each kind must trigger.
FAULT_CODES: dict[FaultKind, str] = {
    FaultKind.IDENTITY_REFUSED: c.IDENTITY_REFUSED,
    FaultKind.DUPLICATE_PERSON: c.DUPLICATE_PERSON,
    FaultKind.BIRTH_YEAR: c.BIRTH_YEAR_IMPLAUSIBLE,
    FaultKind.DATE_BEFORE_1900: c.DATE_BEFORE_1900,
    FaultKind.DEATH_AFTER_YEAR: c.DEATH_AFTER_YEAR,
    FaultKind.HOUSING_UNKNOWN: c.HOUSING_UNKNOWN,
    FaultKind.HOUSEHOLD_UNKNOWN: c.HOUSEHOLD_UNKNOWN,
    FaultKind.ASSESSMENT_AFTER_YEAR: c.ASSESSMENT_AFTER_YEAR,
    FaultKind.SCORE_INVALID: c.SCORE_INVALID,
    FaultKind.SCORE_REPEATED: c.SCORE_REPEATED,
    FaultKind.SERVICE_TYPE_UNKNOWN: c.SERVICE_TYPE_UNKNOWN,
    FaultKind.START_AFTER_END: c.START_AFTER_END,
    FaultKind.OUTSIDE_YEAR: c.OUTSIDE_YEAR,
    FaultKind.DECISION_AFTER_START: c.DECISION_AFTER_START,
    FaultKind.DECISION_BEFORE_APPLICATION: c.DECISION_BEFORE_APPLICATION,
    FaultKind.HOURS_OUT_OF_RANGE: c.HOURS_OUT_OF_RANGE,
    FaultKind.HOURS_MISSING: c.HOURS_MISSING,
    FaultKind.HOURS_NOT_APPLICABLE: c.HOURS_NOT_APPLICABLE,
    FaultKind.ORG_NR_MISSING: c.ORG_NR_MISSING,
    FaultKind.ORG_NR_INVALID: c.ORG_NR_INVALID,
    FaultKind.ORG_NR_NOT_APPLICABLE: c.ORG_NR_NOT_APPLICABLE,
    FaultKind.LONG_TERM_OVERLAP: c.LONG_TERM_OVERLAP,
    FaultKind.SERVICE_AFTER_DEATH: c.SERVICE_AFTER_DEATH,
    FaultKind.DUPLICATE_SERVICE_ID: c.DUPLICATE_SERVICE_ID,
    FaultKind.CONFLICTING_DECISIONS: c.CONFLICTING_DECISIONS,
    FaultKind.REFUSAL_OR_COMPLAINT_AFTER_YEAR: c.REFUSAL_OR_COMPLAINT_AFTER_YEAR,
    FaultKind.COERCION_START_AFTER_END: c.COERCION_START_AFTER_END,
    FaultKind.UNIT_NOT_IN_REGISTER: c.UNIT_NOT_IN_REGISTER,
    FaultKind.UNIT_DELETED: c.UNIT_DELETED,
    FaultKind.UNIT_NOT_CARE: c.UNIT_NOT_CARE,
    FaultKind.UNIT_ELSEWHERE: c.UNIT_ELSEWHERE,
}

#: The kinds the registry finds only with its copy of Enhetsregisteret loaded (``iplos registers load-enheter``).
BUSINESS_KINDS: tuple[FaultKind, ...] = (
    FaultKind.UNIT_NOT_IN_REGISTER,
    FaultKind.UNIT_DELETED,
    FaultKind.UNIT_NOT_CARE,
    FaultKind.UNIT_ELSEWHERE,
)
#: The kinds the payload controls find wherever the export goes (the default of ``inject_faults``).
PAYLOAD_KINDS: tuple[FaultKind, ...] = tuple(kind for kind in FaultKind if kind not in BUSINESS_KINDS)
