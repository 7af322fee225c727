"""take_delivery's path for a population register extract (issue 14, docs/population-register.md): the pseudonyms
part joined to the register's part by reference, each person stored with the outcome of each of its numbers
(``repository.register``), answered with a signed receipt. No control report: the register gets none.

The checks before it are the care data's (``intake.take_delivery``); what is refused here is refused as there: a
payload that does not open, decode or match the signed header, or whose references do not match the pseudonyms
one to one, is final for the message id; the TPF's part failing is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal

import structlog

from services.kit.database import READ_ONLY
from services.kit.problems import Problem, ProblemType, envelope_problem
from services.kit.refusals import StoredAnswer, finalised
from services.registry_intake.read.probes import NEVER_RESIDENT_REASON, flagged_never_resident
from services.registry_intake.repository.register import (
    Identity,
    ReplayedExtract,
    StaleExtract,
    StoredExtract,
)
from services.registry_intake.schemas import SignedReceipt
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.receipts import signed_receipt
from services.registry_intake.service.storing import (
    incoming_of,
    payload_lines,
    pseudonyms_by_ref,
    require_header_matches,
    take_entry,
    unmatched,
)
from services.registry_intake.service.verification import Delivery, VerifiedDelivery
from services.registry_intake.submissions import Outcome
from shared.envelope import InvalidEnvelope, MessageRefused, utc_timestamp
from shared.exact_keys import ExactKeys
from shared.population import REGISTER_PAYLOAD_FORMAT, ExtractInvalid, RegisterRecord, read_register_payload

__all__ = ["answer_if_extract_decided", "extract_receipt", "store_extract"]

log = structlog.get_logger("registry")

_RECEIPT_STATUS: Final[dict[str, Literal["stored", "refused"]]] = {
    "active": "stored",
    "superseded": "stored",
    "refused": "refused",
}


def extract_receipt(ctx: RegistryContext, stored: StoredExtract) -> SignedReceipt:
    """The signed receipt of an extract, rebuilt from its stored row (the same extract in the same state always gets
    the same receipt). ``records_stored`` counts persons, ``identities_refused`` numbers; no report path."""
    refused = stored.status == "refused"
    return signed_receipt(
        ctx,
        message_id=stored.message_id,
        submission_sha256=stored.header_sha256,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        status=_RECEIPT_STATUS[stored.status],
        reason=stored.refusal_reason,
        records_stored=0 if refused else stored.person_count,
        identities_refused=stored.identity_refused_count,
        supersedes=stored.supersedes,
        received_at=utc_timestamp(stored.received_at),
        report_path=None,
    )


def answer_if_extract_decided(ctx: RegistryContext, known: StoredExtract, same: bool) -> None:
    """An extract stored (or refused as stale) before is answered with its receipt; ``same``: it was signed with the
    same header as the delivery that asks again (otherwise the message id's reuse is a conflict)."""
    if not same:
        raise Problem(ProblemType.MESSAGE_ID_CONFLICT, "This message id was used before for a different submission")
    raise _replayed(ctx, known)


def _replayed(ctx: RegistryContext, original: StoredExtract) -> StoredAnswer:
    return StoredAnswer(
        "receipt",
        Problem(
            ProblemType.REPLAYED_MESSAGE,
            "This message id was received before; the original receipt is included",
            **extract_receipt(ctx, original).model_dump(mode="json"),
        ).document(),
    )


def _flagged(ctx: RegistryContext) -> set[str]:
    with ctx.engine.execution_options(**READ_ONLY).connect() as conn:
        return flagged_never_resident(conn, ctx.probes)


def store_extract(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery) -> SignedReceipt:
    """Open both parts, join them and store the extract; its signed receipt, or the Problem that refuses it."""
    payload_phase = False
    try:
        key_version, by_ref = pseudonyms_by_ref(ctx, verified, received)
        payload_phase = True
        header, records = read_register_payload(payload_lines(ctx, verified, received, REGISTER_PAYLOAD_FORMAT))
        require_header_matches(verified, header.municipality, header.year)
        flagged_before = _flagged(ctx)
        stored = ctx.register.store_extract(incoming_of(verified, key_version), _joined(records, by_ref))
    except (MessageRefused, InvalidEnvelope) as exc:
        problem = envelope_problem(exc)
        raise (finalised(problem) if payload_phase else problem) from None
    except ExtractInvalid:
        raise finalised(
            Problem(ProblemType.INVALID_PAYLOAD, "The payload does not follow its declared format")
        ) from None
    except StaleExtract as stale:
        ctx.metrics.message(Outcome.REFUSED)
        raise Problem(
            ProblemType.STALE_SEQUENCE,
            "An extract with the same or a newer sequence is already active for this municipality and year",
            active_sequence=stale.active_sequence,
            **extract_receipt(ctx, stale.refused).model_dump(mode="json"),
        ) from None
    except ReplayedExtract as replay:  # a concurrent delivery of the same id stored it first
        raise _replayed(ctx, replay.original) from None
    ctx.metrics.message(Outcome.STORED)
    # Care submissions this extract showed to report persons who never lived in their municipality (K040): the
    # register's side of the chosen-number probe (issue 17). Read outside the decision, so two extracts decided at
    # once may both count a submission, or neither: a metric, not a record.
    newly_flagged = len(_flagged(ctx) - flagged_before)
    if newly_flagged:
        ctx.metrics.suspicious(NEVER_RESIDENT_REASON, newly_flagged)
    log.info(
        "register extract stored",
        message_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        persons=stored.person_count,
        supersedes=stored.supersedes,
    )
    return extract_receipt(ctx, stored)


def _joined(records: Iterator[RegisterRecord], by_ref: ExactKeys) -> Iterator[tuple[RegisterRecord, list[Identity]]]:
    """Each person with the TPF's outcome for each of its numbers; every reference of the pseudonyms part must be
    matched exactly once (the unmatched-records refusal, final, otherwise)."""
    for record in records:
        yield record, [take_entry(by_ref, number.ref) for number in record.numbers]
    if len(by_ref):
        raise unmatched()
