"""The audit log's two tables, ``audit_log`` and ``audit_checkpoints``, in a service's ``MetaData``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine

AUDIT_LOG: Final = "audit_log"
AUDIT_CHECKPOINTS: Final = "audit_checkpoints"
_MESSAGE_INDEX: Final = "ix_audit_log_message_id"


def _index_type() -> TypeEngine[int]:
    # 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the rowid itself (64-bit), which makes
    # max(idx) a lookup at the end of the table's own b-tree.
    return BigInteger().with_variant(Integer(), "sqlite")


def _log_columns() -> list[SchemaItem]:
    return [
        # autoincrement=False: the index is assigned by ``append`` (max + 1 under the lock), never by a
        # sequence, which could leave gaps after a rollback.
        Column("idx", _index_type(), nullable=False, autoincrement=False),
        Column("message_id", String(36), nullable=False),
        Column("event", String(40), nullable=False),
        Column("entry", Text(), nullable=False),
        Column("leaf_hash", String(64), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("idx", name="pk_audit_log"),
        CheckConstraint("idx >= 0", name="ck_audit_log_idx"),
    ]


def _checkpoint_columns() -> list[SchemaItem]:
    return [
        Column("tree_size", _index_type(), nullable=False, autoincrement=False),
        Column("root_hash", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("body", Text(), nullable=False),
        Column("signature", String(88), nullable=False),
        PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
        CheckConstraint("tree_size >= 0", name="ck_audit_checkpoints_tree_size"),
    ]


@dataclass(frozen=True, slots=True)
class AuditTables:
    log: Table
    checkpoints: Table


def audit_tables(metadata: MetaData) -> AuditTables:
    """The two audit tables in a service's ``MetaData``. Each service's migration writes them out as they were at
    its revision (frozen history); tests/kit/test_frozen_migrations.py keeps the two in step."""
    return AuditTables(
        log=Table(AUDIT_LOG, metadata, *_log_columns(), Index(_MESSAGE_INDEX, "message_id")),
        checkpoints=Table(AUDIT_CHECKPOINTS, metadata, *_checkpoint_columns()),
    )
