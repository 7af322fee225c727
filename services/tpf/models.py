"""The TPF's storage: its audit log, the registry's receipts, its outbox and the messages it refused for good.
No identity number, no pseudonym."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

from services.kit.audit_log import audit_tables
from services.kit.outbox import lease_columns
from services.kit.refusals import refusals_table

metadata = MetaData()

# The tamper-evident audit log (services.kit.audit_log): an entry per message pseudonymised, forwarded or
# refused, with ids, digests and counts only.
audit = audit_tables(metadata)

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

# Messages the TPF has answered for (202 or 200) and delivers to the registry: the sealed parts wait in
# ``outbox/<message id>/`` until the registry's receipt settles them.
# queued -> delivered (receipt in ``receipts``) | rejected (the registry refused for good) | dead-letter
outbox = Table(
    "outbox",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("submission_sha256", String(64), nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Migration 0004: the delivery worker that holds the message for an attempt (services.kit.outbox).
    *lease_columns(),
)

# Messages refused for good (services.kit.refusals, spec section 9), by the TPF itself or, when the registry
# marked its refusal final, by the registry: the problem document answered, so the same message is answered
# again from here without being verified, pseudonymised or forwarded again.
refused_messages = refusals_table(metadata)
