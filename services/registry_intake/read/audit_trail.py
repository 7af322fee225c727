"""The audit trail of one message, as its page and the operator API show it.

The registry's audit-log entries about the message, each with whether it is included in the latest signed
checkpoint: the checkpoint is checked against the registry's key in the public directory, and each entry's
inclusion proof against the checkpoint. Reads only: no checkpoint is signed for a page view.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.kit.audit_log import AuditLog, AuditLogCorrupt, AuditRangeError
from services.registry_intake.read.queries import AuditRow, CheckpointRow
from services.registry_intake.schemas import AuditTrail, AuditTrailCheckpoint, AuditTrailEntry
from shared.audit import (
    Checkpoint,
    InvalidAuditData,
    parse_entry,
    verify_checkpoint_document,
    verify_inclusion_document,
)
from shared.keys import PublicDirectory

__all__ = ["audit_trail"]


def audit_trail(
    audit: AuditLog, directory: PublicDirectory, rows: Sequence[AuditRow], latest: CheckpointRow | None
) -> AuditTrail:
    """The trail of ``rows`` (the message's entries as stored) against ``latest``, the latest stored checkpoint;
    ``audit`` gives the inclusion proofs."""
    checkpoint = _verified(latest, directory, audit.log_name)
    entries = []
    for row in rows:
        entry = parse_entry(row.entry.encode("ascii"))
        included = checkpoint is not None and entry.index < checkpoint.tree_size
        verified = False
        if included and checkpoint is not None:
            try:
                proof = audit.inclusion(entry.index, checkpoint.tree_size)
                verified = verify_inclusion_document(proof.document(), checkpoint).index == entry.index
            except (AuditLogCorrupt, AuditRangeError, InvalidAuditData):
                verified = False
        entries.append(
            AuditTrailEntry(
                index=entry.index,
                event=entry.event,
                at=entry.at,
                facts=dict(entry.facts),
                in_checkpoint=included,
                proof_verified=verified,
            )
        )
    return AuditTrail(
        log=audit.log_name,
        checkpoint=None
        if checkpoint is None
        else AuditTrailCheckpoint(
            tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash, created_at=checkpoint.created_at
        ),
        entries=entries,
    )


def _verified(latest: CheckpointRow | None, directory: PublicDirectory, log_name: str) -> Checkpoint | None:
    """The latest checkpoint if its signature holds under the registry's key, else None (nothing is included)."""
    if latest is None:
        return None
    try:
        document = {"body": latest.body, "signature": latest.signature}
        return verify_checkpoint_document(document, directory, log=log_name).checkpoint
    except InvalidAuditData:
        return None
