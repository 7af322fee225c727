"""take_delivery: what the registry does with a delivery from the TPF, from verifying it to its signed receipt.

Verify the two signed headers and that the connection's TLS peer is the TPF that signed the delivery; answer a
message decided before as it was answered (its receipt, or the refusal that was final for it); check the parts
against the headers; check the window, the year and the person count; open, join, control and store the records
(the repository stores, holds, or refuses a stale sequence); answer with the signed receipt.

Every refusal of a proven sender's delivery (its signatures hold, and it came over the connection of the TPF that
signed it) goes on the audit record exactly once, here, by :func:`_put_on_record`, except a stale sequence: that
one is the repository's decision and is recorded in its transaction with the row it writes. A refusal before the
sender is proven is counted and logged, on no record (services.kit.refusals.unproven). An answer given again from
what is stored (a replay) is counted, never recorded again.
"""

from __future__ import annotations

import hmac

import structlog

from services.kit.problems import Problem, ProblemType
from services.kit.refusals import Recorded, StoredAnswer, is_final, unproven
from services.kit.signed_refusals import signed_if_final
from services.kit.tls import Peer, wrong_peer
from services.registry_intake.models import REFUSAL_STALE_SEQUENCE, SubmissionStatus
from services.registry_intake.repository import ReplayedMessage, StaleSubmission
from services.registry_intake.schemas import SignedReceipt
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.extracts import answer_if_extract_decided, store_extract
from services.registry_intake.service.receipts import receipt_for
from services.registry_intake.service.storing import store_delivery
from services.registry_intake.service.verification import (
    Delivery,
    VerifiedDelivery,
    check_fresh,
    check_parts,
    check_sequence,
    require_reportable,
    verify_delivery,
)
from services.registry_intake.submissions import Outcome, StoredSubmission
from shared.population import REGISTER_PAYLOAD_FORMAT

__all__ = ["take_delivery"]

log = structlog.get_logger("registry")


def take_delivery(ctx: RegistryContext, received: Delivery, peer: Peer) -> SignedReceipt:
    """Take ``received`` from ``peer`` (the connection's party: it must be the TPF that signed the delivery)
    and answer with its signed receipt, or raise the :class:`Problem` that refuses it (a
    :class:`StoredAnswer` when it is answered from what was stored about its message before). Blocking: the
    route runs it in a worker thread."""
    verified: VerifiedDelivery | None = None  # once the sender is proven: the signatures hold, from the TPF's peer
    parts_checked = False  # once the parts are the ones the headers name
    try:
        with ctx.metrics.stage("verify"):
            signed = verify_delivery(ctx, received)
            if not peer.is_party(signed.delivery.sender):
                raise wrong_peer()  # counted, not audited: its bearer is not the TPF that signed it
            verified = signed
            _answer_if_decided(ctx, verified)
            check_parts(ctx, verified, received)
        parts_checked = True
        check_fresh(ctx, verified)
        check_sequence(ctx, verified)
        require_reportable(verified.submission)
        if verified.submission.parts.payload.content == REGISTER_PAYLOAD_FORMAT:
            return store_extract(ctx, verified, received)  # the population register's (issue 14)
        stored = _store(ctx, verified, received)  # observes its stages: open, controls, store
    except StoredAnswer as answer:
        ctx.metrics.replay(answer.answer)
        if verified is None:
            raise
        # A final refusal remembered before refusals were signed: signed now (services.kit.signed_refusals).
        raise _signed(ctx, answer, verified) from None
    except Problem as problem:
        if verified is None:
            unproven(ctx.metrics, problem, peer)
            raise
        # Signed before it is remembered: the same message is answered with the same signed document.
        refusal = _signed(ctx, problem, verified)
        _put_on_record(ctx, refusal, verified, attributable=_attributable(refusal, parts_checked))
        raise refusal from None
    except StaleSubmission as stale:  # on record already, with the refused row the repository wrote
        ctx.metrics.message(Outcome.REFUSED)
        raise _stale(ctx, stale) from None
    log.info(
        "delivery held" if stored.status is SubmissionStatus.HELD else "delivery stored",
        message_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        records=stored.record_count,
        supersedes=stored.supersedes,
    )
    return receipt_for(ctx, stored)


def _signed(ctx: RegistryContext, problem: Problem, verified: VerifiedDelivery) -> Problem:
    """``problem`` with the registry's signed refusal if it is final for the message: the only refusal the TPF
    keeps as final (services.tpf.outbox), so that nothing on the path can end a message for good."""
    return signed_if_final(ctx.keys, problem, verified.submission.message_id, verified.submission_sha256)


def _answer_if_decided(ctx: RegistryContext, verified: VerifiedDelivery) -> None:
    """A message decided before is answered as it was, before its parts are judged again: after a key rotation a
    re-delivered message must get its receipt, not a new (final) refusal against today's key (spec 10.2 step 8).
    The same message id with another signed header is a conflict, answered without a receipt."""
    message_id = verified.submission.message_id
    extract = ctx.register.stored(message_id)
    if extract is not None:
        answer_if_extract_decided(ctx, extract, _same(extract.header_sha256, verified.submission_sha256))
    known = ctx.queries.get(message_id)
    remembered = None if known is not None else ctx.refusals.lookup(message_id)
    decided = known.header_sha256 if known is not None else remembered.submission_sha256 if remembered else None
    if decided is not None and not _same(decided, verified.submission_sha256):
        raise _conflict()
    if known is not None:
        raise _replayed(ctx, known)
    if remembered is not None:
        raise remembered.answer()  # refused for good before: the same answer, from what is stored


def _store(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery) -> StoredSubmission:
    try:
        return store_delivery(ctx, verified, received)
    except ReplayedMessage as exc:  # stored by a concurrent delivery of the same id since it was looked up
        if not _same(exc.original.header_sha256, verified.submission_sha256):
            raise _conflict() from None
        raise _replayed(ctx, exc.original) from None


def _attributable(problem: Problem, parts_checked: bool) -> bool:
    """Whether a refusal of a proven sender's delivery goes on record with the verified headers' facts. Only
    verified facts go into the signed log: until the parts are the ones the headers name too, a refusal is recorded
    under "unknown", so no caller can have the registry sign what it claims. A reused message id is about the
    verified headers alone, and a refusal final for the message id is about what the municipality signed: both on
    record by id. A part the TPF sent wrong (not final) is not."""
    return parts_checked or is_final(problem) or problem.slug == ProblemType.MESSAGE_ID_CONFLICT


def _put_on_record(ctx: RegistryContext, problem: Problem, verified: VerifiedDelivery, *, attributable: bool) -> None:
    """The one place a refusal of a proven sender's delivery is audited (one refused before its signatures held,
    or from another peer than the TPF that signed it, is counted and logged instead: services.kit.refusals). A
    refusal final for the message id (spec section 9) is remembered with its audit entry, once per message; any
    other goes on the log on its own."""
    if is_final(problem):
        recorded = ctx.refusals.refuse(problem, verified.submission, verified.submission_sha256)
        if recorded is Recorded.SAME:  # the same message refused at the same moment: one record
            ctx.metrics.replay("refusal")
            return
        if recorded is Recorded.NEW:
            ctx.metrics.message(Outcome.REFUSED)
            return
    ctx.audit.record_refusal(problem.slug, verified.submission if attributable else None)
    ctx.metrics.message(Outcome.REFUSED)


def _stale(ctx: RegistryContext, stale: StaleSubmission) -> Problem:
    refused = stale.refused
    log.info(
        "delivery refused",
        message_id=refused.message_id,
        problem=REFUSAL_STALE_SEQUENCE,
        municipality=refused.municipality,
        year=refused.year,
    )
    return Problem(
        ProblemType.STALE_SEQUENCE,
        "A submission with the same or a newer sequence is already active for this municipality and year",
        active_sequence=stale.active_sequence,
        **receipt_for(ctx, refused).model_dump(mode="json"),
    )


def _replayed(ctx: RegistryContext, original: StoredSubmission) -> StoredAnswer:
    """The answer for a re-delivery of the very submission stored under its id (the caller compared the digests:
    the same id with another signed header is a conflict, answered without a receipt)."""
    return StoredAnswer(
        "receipt",
        Problem(
            ProblemType.REPLAYED_MESSAGE,
            "This message id was received before; the original receipt is included",
            **receipt_for(ctx, original).model_dump(mode="json"),
        ).document(),
    )


def _conflict() -> Problem:
    return Problem(ProblemType.MESSAGE_ID_CONFLICT, "This message id was used before for a different submission")


def _same(digest: str, other: str) -> bool:
    return hmac.compare_digest(digest.encode(), other.encode())
