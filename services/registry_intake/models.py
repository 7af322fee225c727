"""The registry's storage schema (SQLAlchemy Core). ``migrations/`` builds exactly this; a test compares them.

* ``submissions``: one row per message the registry decided on: the active one of each municipality and year,
  the ones it replaced (``superseded``) and the ones it refused (``refused``, an audit fact: no data stored).
  At most one ``active`` row per municipality and year (a partial unique index).
* ``municipality_years``: the row a writer locks to serialise submissions of one municipality and year; it
  points at the active submission.
* ``persons`` (with their background) and their ``services``, ``function_assessments``, ``diagnoses``,
  ``refusals``, ``complaints`` and ``coercion_decisions``: the records of the active submissions, keyed by
  (submission, record reference). A person's ``pseudonym`` is NULL when the TPF refused the identity number
  (``identity_status`` then holds the refusal code).
* ``findings``: the logical controls' findings of the active submissions, per record (``ref``) or about the
  whole submission (``ref`` NULL), with the severity the catalogue gave the rule when it was stored.

A superseded submission keeps only its ``submissions`` row: its records and its findings are deleted in the
transaction that replaces it. The row keeps what it had (``record_count``, ``finding_count``, ``error_count``,
``warning_count``) as an audit fact. The finding counts are NULL for submissions stored before findings
existed (migration 0002): "not controlled", which is not "no findings". Submission rows are never deleted, so
``findings`` (like ``persons``) refers to ``submissions`` without a cascade.

Child tables carry a surrogate key: the same ``tjeneste_id`` may repeat in bad data, which the logical controls
report; storage must not be the place that rejects it. ``function_assessments`` holds a person's function scores
one row per assessment day, a column per variable (migration 0007, ADR 0015): a variable scored again on the
same day (bad data too) goes into a further row of that day (``ordinal`` 1, 2, ...), so every score is kept;
a variable without a column (a newer export version's) is kept a row per score in ``other_function_scores``.
The closed vocabularies (event type, legal basis, complaint outcome) are enumerated by the export's XSD, which
the gateway enforces; storage has no CHECK for them, only lengths with room to spare.

The population register's extracts (migration 0008, issue 14) have tables of their own, described where they
are defined below: ``register_extracts``, ``register_years``, ``register_persons``, ``register_numbers`` and
``register_residences``.

The registry's copy of Enhetsregisteret (migration 0009, issue 15) is two tables, described below:
``business_register_loads`` and ``business_units``.

Indexes follow the questions operators ask: the active submission of a municipality and year
(``uq_submissions_one_active``), records per service type (``services (submission_id, tjeneste_type, ref)``,
covering ``COUNT(DISTINCT ref)``), findings per rule (``findings (code)``) and per submission and rule
(``findings (submission_id, code)``). Every child table has ``(submission_id, ref)`` for the cascade from
``persons`` (``function_assessments``: the leading columns of its primary key).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

from services.kit.audit_log import audit_tables
from services.kit.refusals import refusals_table
from services.kit.web import web_sessions_table
from shared.iplos.model import FUNCTION_VARIABLES

__all__ = [
    "FUNCTION_COLUMNS",
    "IDENTITY_OK",
    "REFUSAL_HELD_DISCARDED",
    "REFUSAL_STALE_SEQUENCE",
    "SEVERITIES",
    "SubmissionStatus",
    "UTCDateTime",
    "coercion_decisions",
    "complaints",
    "diagnoses",
    "findings",
    "function_assessments",
    "metadata",
    "municipality_years",
    "other_function_scores",
    "persons",
    "refusals",
    "refused_messages",
    "register_extracts",
    "register_numbers",
    "register_persons",
    "register_residences",
    "register_years",
    "sealed_reports",
    "services",
    "submissions",
]

IDENTITY_OK: Final = "ok"
REFUSAL_STALE_SEQUENCE: Final = "stale-sequence"
#: A held submission that a newer one overtook before the municipality confirmed it: it will never be applied.
REFUSAL_HELD_DISCARDED: Final = "held-discarded"
# The gateway's sequences are acceptance times in milliseconds: 64-bit (SQLite's INTEGER always is).
SEQUENCE_TYPE: Final = BigInteger().with_variant(Integer(), "sqlite")
#: The severities a stored finding may have (``shared.iplos.model.Severity``).
SEVERITIES: Final = ("error", "warning")


class SubmissionStatus(StrEnum):
    """The state of a submission row: the one list of them (the table's CHECK is built from it)."""

    ACTIVE = "active"
    """The submission in effect for its municipality and year (at most one)."""
    SUPERSEDED = "superseded"
    """Replaced by a newer one: its records and findings are gone, its row keeps its counts."""
    REFUSED = "refused"
    """Decided against (a stale sequence, or a held submission overtaken): an audit fact, no records."""
    HELD = "held"
    """Stored with its records but not applied: its person count fell sharply below the active submission's,
    and the municipality must confirm the replacement (migration 0004)."""


def _one_of(column: str, values: type[StrEnum]) -> str:
    """``column IN ('a', 'b')``: a CHECK from the enum (the same text the migrations wrote)."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite has no zone: it stores UTC, naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Autoincrementing surrogate keys: BIGINT (identity) on PostgreSQL, the rowid alias on SQLite.
_SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")

MESSAGE_ID = String(36)
RECORD_REF = String(64)

# The tamper-evident audit log (services.kit.audit_log): an entry per delivery stored, superseded or refused,
# with ids, digests and counts only.
audit = audit_tables(metadata)

# Messages refused for good (services.kit.refusals, spec section 9): the problem document answered, so the same
# message is answered again from here without being opened again. Migration 0005.
refused_messages = refusals_table(metadata)

# The pages' sign-in sessions (services.kit.web): the SHA-256 of each session id, the credential it was made from,
# when it began and was last used. Several processes of the service share them here.
web_sessions = web_sessions_table(metadata)

submissions = Table(
    "submissions",
    metadata,
    Column("message_id", MESSAGE_ID, primary_key=True),
    Column("municipality", String(4), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", SEQUENCE_TYPE, nullable=False),
    Column("status", String(16), nullable=False),
    Column("refusal_reason", String(64), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("pseudonymised_count", Integer, nullable=False),
    Column("identity_refused_count", Integer, nullable=False),
    Column("supersedes", MESSAGE_ID, ForeignKey("submissions.message_id"), nullable=True),
    Column("superseded_by", MESSAGE_ID, ForeignKey("submissions.message_id"), nullable=True),
    Column("header_sha256", String(64), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("sender", String(128), nullable=False),
    Column("pseudonym_key_version", Integer, nullable=False),
    # Migration 0002: the city district (bydel) of the header, and the findings summary (NULL: stored before 0002).
    Column("bydel_nr", String(6), nullable=True),
    Column("finding_count", Integer, nullable=True),
    Column("error_count", Integer, nullable=True),
    Column("warning_count", Integer, nullable=True),
    # Migration 0004: the TPF's pseudonyms part and signed delivery header, by digest (for the audit facts of a
    # held submission confirmed later; NULL before 0004).
    Column("pseudonyms_sha256", String(64), nullable=True),
    Column("delivery_sha256", String(64), nullable=True),
    CheckConstraint(_one_of("status", SubmissionStatus), name="status"),
    CheckConstraint(f"(status = '{SubmissionStatus.REFUSED}') = (refusal_reason IS NOT NULL)", name="refusal_reason"),
    Index(None, "municipality", "year", "status"),
    # At most one active submission per municipality and year.
    Index(
        "uq_submissions_one_active",
        "municipality",
        "year",
        unique=True,
        sqlite_where=text(f"status = '{SubmissionStatus.ACTIVE}'"),
        postgresql_where=text(f"status = '{SubmissionStatus.ACTIVE}'"),
    ),
)

municipality_years = Table(
    "municipality_years",
    metadata,
    Column("municipality", String(4), nullable=False),
    Column("year", Integer, nullable=False),
    Column("active_message_id", MESSAGE_ID, ForeignKey("submissions.message_id"), nullable=True),
    Column("active_sequence", SEQUENCE_TYPE, nullable=True),
    PrimaryKeyConstraint("municipality", "year"),
)

persons = Table(
    "persons",
    metadata,
    Column("submission_id", MESSAGE_ID, ForeignKey("submissions.message_id"), nullable=False),
    Column("ref", RECORD_REF, nullable=False),
    Column("pseudonym", LargeBinary(32), nullable=True),
    Column("pseudonym_key_version", Integer, nullable=True),
    Column("identity_status", String(32), nullable=False),
    Column("birth_year", Integer, nullable=True),
    Column("sex", String(1), nullable=True),
    Column("fid_type", String(8), nullable=False),
    # Migration 0002: the person background, every field optional.
    Column("housing", Integer, nullable=True),
    Column("household", Integer, nullable=True),
    Column("unpaid_help", Boolean, nullable=True),
    Column("assisted_communication", Boolean, nullable=True),
    Column("death_date", Date, nullable=True),
    Column("assessed_by_doctor", Date, nullable=True),
    Column("assessed_by_dentist", Date, nullable=True),
    Column("individual_plan", Boolean, nullable=True),
    PrimaryKeyConstraint("submission_id", "ref"),
    CheckConstraint("sex IN ('M', 'K')", name="sex"),
    CheckConstraint(
        "(pseudonym IS NOT NULL AND pseudonym_key_version IS NOT NULL AND identity_status = 'ok')"
        " OR (pseudonym IS NULL AND pseudonym_key_version IS NULL AND identity_status <> 'ok')",
        name="pseudonym_or_refusal",
    ),
    # Longitudinal queries follow a person across years and municipalities.
    Index(None, "pseudonym"),
)


def _person_child(name: str, *columns: Column[Any], indexes: tuple[Index, ...] = ()) -> Table:
    """A table of rows that belong to one person: surrogate key, (submission_id, ref) cascading to persons."""
    return Table(
        name,
        metadata,
        Column("id", _SurrogateKey, primary_key=True, autoincrement=True),
        Column("submission_id", MESSAGE_ID, nullable=False),
        Column("ref", RECORD_REF, nullable=False),
        *columns,
        ForeignKeyConstraint(["submission_id", "ref"], ["persons.submission_id", "persons.ref"], ondelete="CASCADE"),
        # Deleting a person looks its children up by this key (cascade), so it must be indexed.
        Index(None, "submission_id", "ref"),
        *indexes,
    )


services = _person_child(
    "services",
    Column("tjeneste_id", String(64), nullable=False),
    Column("tjeneste_type", Integer, nullable=False),
    Column("decision_date", Date, nullable=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("hours_per_week", Float, nullable=True),
    Column("org_nr", String(32), nullable=True),
    # Migration 0002. Rows stored before it were original reports: event type 'N'.
    Column("application_date", Date, nullable=True),
    Column("event_type", String(8), nullable=False, server_default=text("'N'")),
    # Persons and services per service type of a submission: an index-only COUNT(DISTINCT ref).
    indexes=(Index(None, "submission_id", "tjeneste_type", "ref"),),
)

#: The column of each function variable in ``function_assessments``: its XML name in snake case (unquoted SQL
#: identifiers fold to lower case on PostgreSQL, so camelCase would need quoting in every analyst's query).
FUNCTION_COLUMNS: Final[dict[str, str]] = {
    variable: re.sub(r"(?<=[a-z])(?=[A-Z])", "_", variable).lower() for variable in FUNCTION_VARIABLES
}

function_assessments = Table(
    "function_assessments",
    metadata,
    Column("submission_id", MESSAGE_ID, nullable=False),
    Column("ref", RECORD_REF, nullable=False),
    Column("assessed_on", Date, nullable=False),
    # 0 for a day's first score of each variable; 1, 2, ... only for a variable scored again on the same day.
    Column("ordinal", SmallInteger, nullable=False),
    # The export's schema allows scores 0-9; NULL: the variable was not scored that day.
    *(Column(column, SmallInteger, nullable=True) for column in FUNCTION_COLUMNS.values()),
    # The key leads with (submission_id, ref): it serves the cascade from persons and a submission's deletion.
    PrimaryKeyConstraint("submission_id", "ref", "assessed_on", "ordinal"),
    ForeignKeyConstraint(["submission_id", "ref"], ["persons.submission_id", "persons.ref"], ondelete="CASCADE"),
    # On SQLite the table is its key's B-tree: no rowid, no second index to write.
    sqlite_with_rowid=False,
)

# Scores of a variable that has no column above (the payload format admits any name, so that a minor export
# version may add one), a row each, until a migration gives the variable its column.
other_function_scores = _person_child(
    "other_function_scores",
    Column("variable", String(64), nullable=False),
    Column("score", Integer, nullable=False),
    Column("assessed_on", Date, nullable=False),
)

diagnoses = _person_child(
    "diagnoses",
    Column("system", String(16), nullable=False),
    Column("code", String(32), nullable=False),
)

refusals = _person_child(
    "refusals",
    Column("tjeneste_type", Integer, nullable=False),
    Column("application_date", Date, nullable=True),
    Column("decision_date", Date, nullable=False),
)

complaints = _person_child(
    "complaints",
    Column("tjeneste_type", Integer, nullable=False),
    Column("complaint_date", Date, nullable=False),
    Column("outcome", String(32), nullable=True),
)

coercion_decisions = _person_child(
    "coercion_decisions",
    Column("vedtak_id", String(64), nullable=False),
    Column("legal_basis", String(16), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
)

findings = Table(
    "findings",
    metadata,
    Column("id", _SurrogateKey, primary_key=True, autoincrement=True),
    Column("submission_id", MESSAGE_ID, ForeignKey("submissions.message_id"), nullable=False),
    # NULL: a finding about the whole submission (the foreign key to persons then does not apply).
    Column("ref", RECORD_REF, nullable=True),
    Column("code", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("field", Text, nullable=True),
    Column("detail", Text, nullable=True),
    CheckConstraint("severity IN ('error', 'warning')", name="severity"),
    ForeignKeyConstraint(["submission_id", "ref"], ["persons.submission_id", "persons.ref"], ondelete="CASCADE"),
    Index(None, "submission_id", "ref"),
    Index(None, "submission_id", "code"),
    Index(None, "code"),
)

# Migration 0006: the control report of a stored submission, sealed for its municipality's key and signed once,
# kept as the exact bytes ``GET /v1/submissions/{id}/report`` answers (``recipient_kid``: the key it is sealed
# for; a new key of the municipality's gets a new report). It goes with the submission's records when the
# submission is superseded.
sealed_reports = Table(
    "sealed_reports",
    metadata,
    Column("message_id", MESSAGE_ID, ForeignKey("submissions.message_id"), primary_key=True),
    Column("recipient_kid", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("sealed_at", UTCDateTime(), nullable=False),
)


# Migration 0008 (issue 14, docs/population-register.md): the population register's extracts, one per municipality
# and year, stored by pseudonym. Apart from the care data's tables: no operator query of care data can count them,
# and an extract's replacement touches nothing of a municipality's submissions.
#
# * ``register_extracts``: a row per extract decided (active, superseded or refused as stale), its counts and
#   digests as an audit fact; at most one active per municipality and year.
# * ``register_years``: the row a writer locks to serialise the extracts of one municipality and year, pointing at
#   the active one (as ``municipality_years`` does for care data).
# * ``register_persons`` (a row per person, by its position ``n`` in the extract), ``register_numbers`` (each of the
#   person's identity numbers as its pseudonym, or the TPF's refusal code, with its type and validity: a D-number
#   replaced by a fødselsnummer is two rows of one person) and ``register_residences`` (the residence history).
#   Keyed by the extract first (WITHOUT ROWID on SQLite), so that a replacement deletes by its key;
#   ``register_numbers`` is indexed by pseudonym, the join to care data.
register_extracts = Table(
    "register_extracts",
    metadata,
    Column("message_id", MESSAGE_ID, primary_key=True),
    Column("municipality", String(4), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", SEQUENCE_TYPE, nullable=False),
    Column("status", String(16), nullable=False),
    Column("refusal_reason", String(64), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("person_count", Integer, nullable=False),
    Column("number_count", Integer, nullable=False),
    Column("pseudonymised_count", Integer, nullable=False),
    Column("identity_refused_count", Integer, nullable=False),
    Column("supersedes", MESSAGE_ID, ForeignKey("register_extracts.message_id"), nullable=True),
    Column("superseded_by", MESSAGE_ID, ForeignKey("register_extracts.message_id"), nullable=True),
    Column("sender", String(128), nullable=False),
    Column("pseudonym_key_version", Integer, nullable=False),
    Column("header_sha256", String(64), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("pseudonyms_sha256", String(64), nullable=False),
    Column("delivery_sha256", String(64), nullable=False),
    CheckConstraint("status IN ('active', 'superseded', 'refused')", name="status"),
    CheckConstraint("(status = 'refused') = (refusal_reason IS NOT NULL)", name="refusal_reason"),
    Index(None, "municipality", "year", "status"),
    Index(
        "uq_register_extracts_one_active",
        "municipality",
        "year",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

register_years = Table(
    "register_years",
    metadata,
    Column("municipality", String(4), nullable=False),
    Column("year", Integer, nullable=False),
    Column("active_message_id", MESSAGE_ID, ForeignKey("register_extracts.message_id"), nullable=True),
    Column("active_sequence", SEQUENCE_TYPE, nullable=True),
    PrimaryKeyConstraint("municipality", "year"),
)

register_persons = Table(
    "register_persons",
    metadata,
    Column("extract_id", MESSAGE_ID, ForeignKey("register_extracts.message_id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("sex", String(1), nullable=True),
    Column("birth_year", Integer, nullable=True),
    Column("death_date", Date, nullable=True),
    PrimaryKeyConstraint("extract_id", "n"),
    CheckConstraint("sex IN ('M', 'K')", name="sex"),
    sqlite_with_rowid=False,
)

register_numbers = Table(
    "register_numbers",
    metadata,
    Column("extract_id", MESSAGE_ID, nullable=False),
    Column("n", Integer, nullable=False),
    Column("ordinal", SmallInteger, nullable=False),
    Column("pseudonym", LargeBinary(32), nullable=True),
    Column("pseudonym_key_version", Integer, nullable=True),
    Column("identity_status", String(32), nullable=False),
    Column("number_type", String(3), nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    PrimaryKeyConstraint("extract_id", "n", "ordinal"),
    ForeignKeyConstraint(
        ["extract_id", "n"], ["register_persons.extract_id", "register_persons.n"], ondelete="CASCADE"
    ),
    CheckConstraint("number_type IN ('FNR', 'DNR')", name="number_type"),
    CheckConstraint(
        "(pseudonym IS NOT NULL AND pseudonym_key_version IS NOT NULL AND identity_status = 'ok')"
        " OR (pseudonym IS NULL AND pseudonym_key_version IS NULL AND identity_status <> 'ok')",
        name="pseudonym_or_refusal",
    ),
    Index(None, "pseudonym"),
    sqlite_with_rowid=False,
)

register_residences = Table(
    "register_residences",
    metadata,
    Column("extract_id", MESSAGE_ID, nullable=False),
    Column("n", Integer, nullable=False),
    Column("ordinal", SmallInteger, nullable=False),
    Column("municipality", String(4), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    PrimaryKeyConstraint("extract_id", "n", "ordinal"),
    ForeignKeyConstraint(
        ["extract_id", "n"], ["register_persons.extract_id", "register_persons.n"], ondelete="CASCADE"
    ),
    sqlite_with_rowid=False,
)


# The registry's copy of Enhetsregisteret (issue 15, docs/business-register.md), public data loaded by its operators:
# * ``business_register_loads``: a row per bulk file loaded (its kind, the day it was taken, its digest, counts),
#   the audit log's message id for the load;
# * ``business_units``: every unit ever loaded, by organisation number, as the latest file that listed it said.
#   A unit of a kind that a later file of that kind no longer lists was deleted (a deleted main unit leaves the
#   bulk file without a date): it keeps its row, ``deleted_on`` the day of the first file without it and
#   ``deletion`` ``absent``; a deletion date the file gave is ``file``. ``load_id`` is the last load that listed
#   it, indexed with the kind for the "no longer listed" update.
BUSINESS_UNIT_KINDS: Final = ("enhet", "underenhet")

business_register_loads = Table(
    "business_register_loads",
    metadata,
    Column("load_id", MESSAGE_ID, primary_key=True),
    # 1, 2, 3, ... in the order the loads committed (they serialise on the copy's lock): "newest" without a tie.
    Column("serial", Integer, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("loaded_at", UTCDateTime(), nullable=False),
    Column("loaded_by", String(128), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("unit_count", Integer, nullable=False),
    Column("gone_count", Integer, nullable=False),
    CheckConstraint("kind IN ('enhet', 'underenhet')", name="kind"),
    Index(None, "kind", "as_of"),
)

business_units = Table(
    "business_units",
    metadata,
    Column("org_nr", String(9), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("org_form", String(8), nullable=True),
    Column("industry", String(8), nullable=True),
    Column("municipality", String(4), nullable=True),
    Column("registered_on", Date, nullable=True),
    Column("deleted_on", Date, nullable=True),
    Column("deletion", String(8), nullable=True),
    Column("parent", String(9), nullable=True),
    Column("load_id", MESSAGE_ID, ForeignKey("business_register_loads.load_id"), nullable=False),
    CheckConstraint("kind IN ('enhet', 'underenhet')", name="kind"),
    CheckConstraint("(deleted_on IS NULL) = (deletion IS NULL)", name="deletion"),
    CheckConstraint("deletion IN ('file', 'absent')", name="deletion_source"),
    Index(None, "kind", "load_id"),
)
