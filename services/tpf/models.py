"""The TPF's storage: an audit log of what it processed. No identity number, no pseudonym, no payload."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, index=True),
    Column("event", String(20), nullable=False),  # pseudonymised | forwarded | refused
    Column("municipality", String(4), nullable=True),
    Column("year", Integer, nullable=True),
    Column("sequence", Integer, nullable=True),
    Column("records", Integer, nullable=True),
    Column("pseudonymised", Integer, nullable=True),
    Column("refused", Integer, nullable=True),
    Column("identity_sha256", String(64), nullable=True),
    Column("payload_sha256", String(64), nullable=True),
    Column("pseudonyms_sha256", String(64), nullable=True),
    Column("key_version", Integer, nullable=True),
    Column("outcome", String(60), nullable=True),  # receipt status or problem type
    Column("at", DateTime(timezone=True), nullable=False),
)

# The registry's signed receipt per message, kept so a re-delivered message gets the same answer without
# being processed twice. A receipt holds ids, counts and digests only.
receipts = Table(
    "receipts",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("receipt", Text, nullable=False),
    Column("signature", String(88), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
