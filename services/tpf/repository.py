"""What the TPF has stored about messages, for its use cases: their receipts and outbox rows, the refusals that
were final for a message id, and the audit entry of every refusal.

Taking and delivering a message is the outbox's (services.tpf.outbox): its transactions write the outbox row, the
receipt and their audit entries. This module reads those through the outbox's public methods and writes what
the TPF records outside it: a refusal of a proven sender's message. A final one (spec section 9) goes into the
refusal memory (services.kit.refusals) with its audit entry in one transaction; any other is an audit entry of its
own. A refusal before the sender is proven is recorded nowhere here (services.kit.refusals.unproven).

No identity number, pseudonym or payload content is stored or read here: ids, digests, counts, problem documents.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from services.kit.audit_log import AuditLog
from services.kit.problems import Problem
from services.kit.refusals import Recorded, RefusalMemory, Remembered, is_final
from services.tpf import outbox
from services.tpf.models import audit
from shared.audit import parse_entry
from shared.envelope import SubmissionHeader
from shared.keys.municipality import party_name

__all__ = ["StoredReceipt", "TpfRepository"]

# The registry's signed receipt and its signature, as stored when the message was delivered.
StoredReceipt = tuple[dict[str, Any], str]


class TpfRepository:
    def __init__(self, engine: Engine, box: outbox.TpfOutbox, refusals: RefusalMemory, audit: AuditLog) -> None:
        self._engine = engine
        self._outbox = box
        self._refusals = refusals
        self._audit = audit

    # -- reads ------------------------------------------------------------------------------------------------

    def receipt(self, message_id: str) -> StoredReceipt | None:
        """The registry's receipt for a delivered message."""
        return outbox.stored_receipt(self._engine, message_id)

    def remembered_refusal(self, message_id: str) -> Remembered | None:
        """The refusal that was final for the message id, by the TPF or (marked final) by the registry."""
        return self._refusals.lookup(message_id)

    def status(self, message_id: str) -> outbox.Status | None:
        """The message's outbox row: queued, delivered, rejected or dead-letter."""
        return self._outbox.status(message_id)

    def sender_of(self, message_id: str) -> str | None:
        """The party whose message this is (a municipality, or the population register): from its ``pseudonymised``
        audit entry, which the transaction that queued the message wrote (so every message the TPF took has one),
        with the verified header's facts. An entry from before the ``sender`` fact names the municipality only,
        whose party it then was."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(audit.log.c.entry)
                .where(audit.log.c.message_id == message_id, audit.log.c.event == "pseudonymised")
                .limit(1)
            ).first()
        if row is None:
            return None
        facts = parse_entry(row.entry.encode("ascii")).facts
        sender, municipality = facts.get("sender"), facts.get("municipality")
        if isinstance(sender, str):
            return sender
        return party_name(municipality) if isinstance(municipality, str) else None

    # -- writes -----------------------------------------------------------------------------------------------

    def forget(self, message_id: str) -> None:
        """Drop a rejected or dead-lettered message, so that the municipality's re-delivery is taken afresh."""
        self._outbox.forget(message_id)

    def record_refusal(
        self, problem: Problem, header: SubmissionHeader, submission_sha256: str, *, attributable: bool
    ) -> Recorded:
        """Put a refusal of a proven sender's message on record, once (``header`` verified, from the signer's
        connection: a refusal before that is on no record, services.kit.refusals.unproven).

        Final for the message id: remembered with its ``refused`` audit entry, or nothing written if the same
        message was remembered already (:attr:`Recorded.SAME`: a replay). Otherwise, and for a final refusal of a
        message id remembered for another header: an audit entry by message id and the header's facts if
        ``attributable``, else as ``unknown`` (so nobody can have the TPF sign what a message merely claims), and
        :attr:`Recorded.NEW`.
        """
        if is_final(problem):
            recorded = self._refusals.refuse(problem, header, submission_sha256)
            if recorded is not Recorded.OTHER:
                return recorded
        self._audit.record_refusal(problem.slug, header if attributable else None)
        return Recorded.NEW
