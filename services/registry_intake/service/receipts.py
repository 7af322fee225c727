"""The registry's signed receipt for a submission, rebuilt from its stored row whenever it is asked for."""

from __future__ import annotations

from typing import Any, Final, Literal

from services.registry_intake.models import SubmissionStatus
from services.registry_intake.schemas import SignedReceipt
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.submissions import StoredSubmission
from shared.envelope import Receipt, utc_timestamp
from shared.envelope.receipts import carry

__all__ = ["HELD_REASON", "receipt_for", "signed_receipt"]

#: What a held submission's receipt says, for people: the numbers are in the receipt and the submission's view.
HELD_REASON: Final = (
    "held: far fewer persons than the active submission; the active one stays until the municipality confirms"
    " the replacement"
)

#: What a receipt calls a submission in each state: an applied one is "stored", whether still active or since
#: superseded (its data was in effect).
_RECEIPT_STATUS: Final[dict[SubmissionStatus, Literal["stored", "held", "refused"]]] = {
    SubmissionStatus.ACTIVE: "stored",
    SubmissionStatus.SUPERSEDED: "stored",
    SubmissionStatus.HELD: "held",
    SubmissionStatus.REFUSED: "refused",
}


def receipt_for(ctx: RegistryContext, stored: StoredSubmission) -> SignedReceipt:
    """The signed receipt, rebuilt from the stored row: the same submission in the same state always gets the
    same receipt (a held one's changes once, when it is confirmed and becomes the active one)."""
    refused = stored.status is SubmissionStatus.REFUSED
    return signed_receipt(
        ctx,
        message_id=stored.message_id,
        submission_sha256=stored.header_sha256,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        status=_RECEIPT_STATUS[stored.status],
        reason=HELD_REASON if stored.status is SubmissionStatus.HELD else stored.refusal_reason,
        records_stored=0 if refused else stored.record_count,
        identities_refused=stored.identity_refused_count,
        supersedes=stored.supersedes,
        received_at=utc_timestamp(stored.received_at),  # always timezone-aware (the models' UTC type)
        report_path=None if refused else f"/v1/submissions/{stored.message_id}/report",
    )


def signed_receipt(ctx: RegistryContext, **facts: Any) -> SignedReceipt:
    """A receipt of ``facts`` (every member but the registry's own ``sender`` and ``signer_kid``), signed by the
    registry: a care submission's (:func:`receipt_for`) and a population register extract's."""
    receipt = Receipt(sender=ctx.keys.party, signer_kid=ctx.keys.signing_kid, **facts)
    return SignedReceipt.model_validate(carry(receipt, "receipt", ctx.keys.signing))
