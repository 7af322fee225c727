"""The registry's logical controls: a catalogue with stable codes, and a streaming runner.

Two tiers, as the national registries work: a schema error rejects the whole submission (the gateway catches
it before sealing); everything here is a *content* finding, stored per record with the record, which is kept.

* ``CATALOGUE`` lists every control: a stable code (``K001`` ...), a severity, a one-line title and the rule.
  **Codes are stable forever once published**: a withdrawn control keeps its code reserved,
  a new control gets the next free number, nothing is ever renumbered. Titles and rules are in Norwegian
  (bokmål), because the municipality's staff read them in their control report; ``docs/controls.md`` is
  generated from it (``python -m shared.iplos.controls > docs/controls.md``) and a test keeps it equal.
* ``ControlRunner`` runs the controls while the registry streams records into its database: one
  ``submission_findings()`` for the message header, then ``check()`` once per record in submission order. It
  keeps only what the cross-record rules need (the pseudonyms seen, and each ``tjenesteID`` seen with its first
  decision date), never the records.

Closed vocabularies (the event type of a service line, Volven 7316; the legal basis of a coercion decision; the
outcome of a complaint) are schema-tier: the export's XSD enumerates them and the payload codec refuses any other
value, so the registry never sees one and there is no control for them. Open code lists (service, housing and
household codes; scores) are only bounded by the schema and judged here.

A ``Finding`` names the record by its reference (``ref``; None for the submission) and locates the fault with
``field`` (e.g. ``tjenester[2].startdato``, 1-based) and a short ``detail`` that may quote payload values (the
report is sealed for the municipality alone) but never an identity number or a pseudonym.

Modules: ``_catalogue`` (the controls and their codes), ``_runner`` (the streaming runner), ``_reference`` (the
values they judge by), ``_markdown`` (``docs/controls.md``).
"""

from shared.exact_keys import ExactKeys
from shared.iplos.controls._catalogue import (
    ASSESSMENT_AFTER_YEAR,
    BIRTH_YEAR_IMPLAUSIBLE,
    BUSINESS_CODES,
    CATALOGUE,
    COERCION_START_AFTER_END,
    CONFLICTING_DECISIONS,
    DATE_BEFORE_1900,
    DEATH_AFTER_YEAR,
    DECISION_AFTER_START,
    DECISION_BEFORE_APPLICATION,
    DIFFERS_FROM_REGISTER,
    DISTRICT_MISMATCH,
    DISTRICT_NOT_EXPECTED,
    DUPLICATE_PERSON,
    DUPLICATE_SERVICE_ID,
    HOURS_MISSING,
    HOURS_NOT_APPLICABLE,
    HOURS_OUT_OF_RANGE,
    HOUSEHOLD_UNKNOWN,
    HOUSING_UNKNOWN,
    IDENTITY_REFUSED,
    LONG_TERM_OVERLAP,
    MUNICIPALITY_INVALID,
    MUNICIPALITY_NOT_SIGNER,
    NEVER_RESIDENT,
    NOT_RESIDENT,
    ORG_NR_INVALID,
    ORG_NR_MISSING,
    ORG_NR_NOT_APPLICABLE,
    OUTSIDE_YEAR,
    REFUSAL_OR_COMPLAINT_AFTER_YEAR,
    REGISTER_CODES,
    REGISTRY_ONLY_CODES,
    SCORE_INVALID,
    SCORE_REPEATED,
    SERVICE_AFTER_DEATH,
    SERVICE_AFTER_REGISTER_DEATH,
    SERVICE_TYPE_UNKNOWN,
    START_AFTER_END,
    UNIT_DELETED,
    UNIT_ELSEWHERE,
    UNIT_NOT_CARE,
    UNIT_NOT_IN_REGISTER,
    UNKNOWN_TO_REGISTER,
    Control,
    control,
)
from shared.iplos.controls._markdown import render_markdown
from shared.iplos.controls._reference import (
    DISTRICT_MUNICIPALITIES,
    EARLIEST_DATE,
    HOURLY_SERVICES,
    IDENTITY_OK,
    LONG_TERM_STAY,
    MAX_AGE,
    MAX_HOURS_PER_WEEK,
    NO_ORG_NR_SERVICES,
    org_nr_is_valid,
)
from shared.iplos.controls._runner import ControlRunner

__all__ = [
    "ASSESSMENT_AFTER_YEAR",
    "BIRTH_YEAR_IMPLAUSIBLE",
    "BUSINESS_CODES",
    "CATALOGUE",
    "COERCION_START_AFTER_END",
    "CONFLICTING_DECISIONS",
    "DATE_BEFORE_1900",
    "DEATH_AFTER_YEAR",
    "DECISION_AFTER_START",
    "DECISION_BEFORE_APPLICATION",
    "DIFFERS_FROM_REGISTER",
    "DISTRICT_MISMATCH",
    "DISTRICT_MUNICIPALITIES",
    "DISTRICT_NOT_EXPECTED",
    "DUPLICATE_PERSON",
    "DUPLICATE_SERVICE_ID",
    "EARLIEST_DATE",
    "HOURLY_SERVICES",
    "HOURS_MISSING",
    "HOURS_NOT_APPLICABLE",
    "HOURS_OUT_OF_RANGE",
    "HOUSEHOLD_UNKNOWN",
    "HOUSING_UNKNOWN",
    "IDENTITY_OK",
    "IDENTITY_REFUSED",
    "LONG_TERM_OVERLAP",
    "LONG_TERM_STAY",
    "MAX_AGE",
    "MAX_HOURS_PER_WEEK",
    "MUNICIPALITY_INVALID",
    "MUNICIPALITY_NOT_SIGNER",
    "NEVER_RESIDENT",
    "NOT_RESIDENT",
    "NO_ORG_NR_SERVICES",
    "ORG_NR_INVALID",
    "ORG_NR_MISSING",
    "ORG_NR_NOT_APPLICABLE",
    "OUTSIDE_YEAR",
    "REFUSAL_OR_COMPLAINT_AFTER_YEAR",
    "REGISTER_CODES",
    "REGISTRY_ONLY_CODES",
    "SCORE_INVALID",
    "SCORE_REPEATED",
    "SERVICE_AFTER_DEATH",
    "SERVICE_AFTER_REGISTER_DEATH",
    "SERVICE_TYPE_UNKNOWN",
    "START_AFTER_END",
    "UNIT_DELETED",
    "UNIT_ELSEWHERE",
    "UNIT_NOT_CARE",
    "UNIT_NOT_IN_REGISTER",
    "UNKNOWN_TO_REGISTER",
    "Control",
    "ControlRunner",
    "ExactKeys",
    "control",
    "org_nr_is_valid",
    "render_markdown",
]
