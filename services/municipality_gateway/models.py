"""The gateway's storage: the outbox of sealed submissions and the local reference -> brukerNr mapping.

The mapping never leaves the municipality: it is what lets the registry's feedback, which names records only
by reference, be shown to the municipality's own case workers.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.kit.audit_log import audit_tables
from services.kit.outbox import lease_columns
from services.kit.web import web_sessions_table

metadata = MetaData()

submissions = Table(
    "submissions",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("municipality", String(4), nullable=False),
    Column("year", Integer, nullable=False),
    # Acceptance time in ms (see outbox.accept): 64-bit (SQLite's INTEGER always is).
    Column("sequence", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    # queued -> [forwarded: the TPF holds it] -> stored | refused (by the registry, e.g. stale)
    #        | held (by the registry, until the municipality confirms: -> stored | refused)
    #        | rejected (a refusal on the way the TPF signed as final) | dead-letter (too many failed attempts)
    Column("state", String(20), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("receipt", Text, nullable=True),
    Column("receipt_signature", String(88), nullable=True),
    # When the TPF answered 202 (took it into its own durable outbox); polling its status backs off from here.
    Column("forwarded_at", DateTime(timezone=True), nullable=True),
    # Migration 0005: the export as received, by digest (NULL before 0005): the same file sent again is answered
    # with the submission it already is.
    Column("export_sha256", String(64), nullable=True),
    # Migration 0006: the delivery worker that holds the submission for an attempt (services.kit.outbox).
    *lease_columns(),
    UniqueConstraint("municipality", "year", "sequence", name="uq_submissions_municipality_year_sequence"),
)

record_refs = Table(
    "record_refs",
    metadata,
    Column("message_id", String(36), ForeignKey("submissions.message_id", ondelete="CASCADE"), primary_key=True),
    Column("ref", String(32), primary_key=True),
    Column("bruker_nr", String(40), nullable=False),
)

# The registry's control report, opened with the municipality's key and with every record reference mapped
# back to its brukerNr: readable by the municipality's own staff, and by nobody on the way.
reports = Table(
    "reports",
    metadata,
    Column("message_id", String(36), ForeignKey("submissions.message_id", ondelete="CASCADE"), primary_key=True),
    Column("report", Text, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    # Migration 0007: the registry's entity tag of the report kept, to revalidate it (NULL: kept before 0007).
    Column("etag", String(80), nullable=True),
)

# The tamper-evident audit log (services.kit.audit_log): an entry per submission sealed, sent to the TPF,
# settled or requeued, with ids, digests and counts only.
audit = audit_tables(metadata)

# The pages' sign-in sessions (services.kit.web): the SHA-256 of each session id, the credential it was made from,
# when it began and was last used. Several processes of the service share them here.
web_sessions = web_sessions_table(metadata)
