"""The check of what the tables hold: every entry re-hashed and compared with its row, every signed checkpoint's
root compared with the tree of the entries. A log that fails it is ``AuditLogCorrupt`` and signs nothing more."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from services.kit.audit_log._results import MAX_PAGE, AuditLogCorrupt
from services.kit.audit_log._tables import AuditTables
from shared.audit import InvalidAuditData, MerkleTree, SignedCheckpoint, leaf_hash, parse_checkpoint, parse_entry


@dataclass
class VerifiedLog:
    """What has been read from one service's tables and checked: the tree so far and the checkpoints checked.
    ``service`` is the name every entry must carry."""

    tables: AuditTables
    service: str
    tree: MerkleTree = dataclasses.field(default_factory=MerkleTree)
    checked_tree_size: int = -1  # the largest checkpoint tree size checked against ``tree``

    def catch_up(self, conn: Connection) -> None:
        """Read the rows not seen yet, check each, and check every new checkpoint against them.

        Checkpoints are read *before* the entries: a checkpoint that is committed by then covers only entries
        committed earlier still, so the entries read next include all of them, even on PostgreSQL where each
        statement sees the database as of its own start.
        """
        checkpoints = self.tables.checkpoints
        new_checkpoints = conn.execute(
            select(checkpoints)
            .where(checkpoints.c.tree_size > self.checked_tree_size)
            .order_by(checkpoints.c.tree_size)
        ).all()
        table = self.tables.log
        # Streamed in pages (a server-side cursor on PostgreSQL): the first read after a start is the whole log.
        rows = conn.execute(
            select(table.c.idx, table.c.message_id, table.c.event, table.c.entry, table.c.leaf_hash)
            .where(table.c.idx >= self.tree.size)
            .order_by(table.c.idx)
            .execution_options(yield_per=MAX_PAGE)
        )
        try:
            for row in rows:
                self.tree.append(self._check_row(row, self.tree.size))
        finally:
            rows.close()  # also when a row fails its check half-way through the stream
        for row in new_checkpoints:
            self._check_checkpoint(row)
            self.checked_tree_size = int(row.tree_size)

    def _check_row(self, row: Any, expected_index: int) -> bytes:
        index = int(row.idx)
        if index != expected_index:
            raise AuditLogCorrupt(f"audit_log has no entry {expected_index} (the next one is {index})")
        try:
            data = row.entry.encode("ascii")
            entry = parse_entry(data)
        except (UnicodeEncodeError, InvalidAuditData):
            raise AuditLogCorrupt(f"audit_log entry {index} is not a valid canonical entry") from None
        if (entry.index, entry.service, entry.message_id, entry.event) != (
            index,
            self.service,
            row.message_id,
            row.event,
        ):
            raise AuditLogCorrupt(f"audit_log entry {index} does not match its row")
        leaf = leaf_hash(data)
        if leaf.hex() != row.leaf_hash:
            raise AuditLogCorrupt(f"audit_log entry {index} does not hash to its stored leaf hash")
        return leaf

    def _check_checkpoint(self, row: Any) -> None:
        signed = signed_checkpoint(row)
        size = signed.checkpoint.tree_size
        if (size, signed.checkpoint.root_hash) != (int(row.tree_size), row.root_hash):
            raise AuditLogCorrupt(f"checkpoint of tree size {row.tree_size} does not match its row")
        if size > self.tree.size:
            raise AuditLogCorrupt(f"a checkpoint covers {size} entries but audit_log has only {self.tree.size}")
        if self.tree.root(size).hex() != signed.checkpoint.root_hash:
            raise AuditLogCorrupt(f"the entries do not hash to the root signed for tree size {size}")


def signed_checkpoint(row: Row[Any]) -> SignedCheckpoint:
    """A stored checkpoint row parsed, or ``AuditLogCorrupt`` if it is not a well-formed signed checkpoint."""
    try:
        body = row.body.encode("ascii")
        return SignedCheckpoint(parse_checkpoint(body), body, base64.b64decode(row.signature, validate=True))
    except (UnicodeEncodeError, InvalidAuditData, binascii.Error):
        raise AuditLogCorrupt(f"checkpoint of tree size {row.tree_size} is malformed") from None
