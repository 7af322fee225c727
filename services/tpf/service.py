"""What the TPF does, as the use cases its routes call: :func:`take_message` and :func:`get_message`.

Taking a municipality's message (docs/envelope-v1.md 10.1), in order:

1. verify the signed header: its signature, its signer a registered municipality, the one it names (steps 1-3),
   and that the connection's TLS peer is that municipality's party (``wrong-peer`` otherwise; not final);
2. answer a message decided before as it was: its receipt (409), the refusal that was final for it, or 202 while
   it is queued (spec section 9; before its parts are judged again, so a re-delivery after a key rotation gets
   its receipt, not a new refusal against today's key);
3. check the recipients (final) and the parts' digests (not final: damage in transit is possible) (steps 4-5);
4. check the signed timestamp's window, pseudonymise and stage every file of the delivery on disk (final);
5. enqueue: one transaction records the message as queued with its audit entry and commits the staged folder;
6. attempt the first delivery within the request: a healthy chain answers with the registry's receipt at once;
7. answer 200 (the receipt), 502 (the registry refused for good) or 202 (the status; the worker delivers).

A refusal final for the message carries the TPF's signed refusal (docs/envelope-v1.md 7.10,
services.kit.signed_refusals), in its answer and in the status of a message rejected for good: the only refusal
the gateway ends a submission on, since anything on the path could write a problem document or a status.

Steps 1-5 touch keys, files and the database and run in one worker thread (:func:`_take`), because each is
blocking and none needs the event loop in between; the request's uploads are consumed there. Step 6 is the
outbox's own (an HTTP call and the record of its outcome), and the status of a message left to the worker is one
more read. So a message costs two hops to the threadpool here (one when the first attempt delivers it), plus the
outbox's. A refusal of the message is put on record in one place, :func:`_refused`, once (on the audit log only
once the sender is proven; before that it is counted and logged); a message answered from what was stored about
it (a :class:`~services.kit.refusals.StoredAnswer`) is counted as a replay instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.bodies import Upload
from services.kit.problems import Problem, ProblemType
from services.kit.refusals import Recorded, RefusalMemory, StoredAnswer, final, is_final, unproven
from services.kit.signed_refusals import REFUSAL, signed_if_final
from services.kit.tls import Peer, wrong_peer
from services.tpf import checks, pseudonymising
from services.tpf.monitoring import TpfMetrics
from services.tpf.pseudonymising import Pseudonymisation, Pseudonymised
from services.tpf.schemas import DeliveredMessage, DeliveryAnswer, MessageState, MessageStatus, status_url
from shared.envelope import SubmissionHeader
from shared.keys import PublicDirectory
from shared.keys.tpf import TpfKeys

if TYPE_CHECKING:
    from services.tpf.outbox import Status, TpfOutbox
    from services.tpf.repository import StoredReceipt, TpfRepository

__all__ = ["MessageParts", "Pseudonymised", "TpfContext", "get_message", "take_message"]

log = structlog.get_logger("tpf")


@dataclass(frozen=True)
class TpfContext:
    """What the use cases work with, built once at start-up (services.tpf.api)."""

    pseudonymisation: Pseudonymisation
    max_age: dt.timedelta
    """A submission header signed longer ago than this is refused (timestamp-out-of-window)."""
    max_skew: dt.timedelta
    """How far in the future a signed timestamp may lie."""
    engine: Engine
    audit: AuditLog
    refusals: RefusalMemory
    metrics: TpfMetrics
    outbox: TpfOutbox
    """Where a message is staged, queued and delivered from."""
    repository: TpfRepository
    """What the TPF has stored about messages (over the outbox and the refusal memory)."""

    @property
    def keys(self) -> TpfKeys:
        return self.pseudonymisation.keys

    @property
    def directory(self) -> PublicDirectory:
        return self.pseudonymisation.directory


@dataclass(frozen=True)
class MessageParts:
    """A municipality's message as received: the signed header's bytes, its signature, and the two sealed parts
    (spooled to disk, with their digests). :func:`take_message` consumes it: the uploads are closed once they
    are staged in the outbox or refused, not held while the first delivery attempt runs."""

    header: bytes
    signature: bytes
    identity: Upload
    payload: Upload

    def close(self) -> None:
        self.identity.file.close()
        self.payload.file.close()


async def take_message(ctx: TpfContext, parts: MessageParts, peer: Peer) -> DeliveryAnswer | MessageStatus:
    """Take a municipality's message from ``peer`` (the connection's party, services.kit.tls): the receipt when the
    first attempt delivers it, else its status (202). Raises a Problem for a message refused (or answered from
    what was stored about it) and for one the registry refused for good (``registry-refused``, 502)."""
    taken = await run_in_threadpool(_take, ctx, parts, peer)
    if isinstance(taken, MessageStatus):
        return taken
    # The first attempt in this request. Anything that does not settle it leaves the message to the worker, and
    # the municipality polls the status URL.
    outcome = await ctx.outbox.deliver(taken)
    if outcome.state == MessageState.DELIVERED:
        # A delivery has its verified receipt.
        assert outcome.receipt is not None
        assert outcome.signature is not None
        return DeliveryAnswer(receipt=outcome.receipt, signature=outcome.signature)
    if outcome.state == MessageState.REJECTED:
        # Final only if the registry signed it so (services.tpf.outbox), and then kept with the TPF's signed
        # refusal: answered as kept, the same document as every later answer about it.
        remembered = await run_in_threadpool(ctx.repository.remembered_refusal, taken) if outcome.final else None
        if remembered is None:
            raise outcome.problem()
        raise _signed(ctx, remembered.answer(), taken, hashlib.sha256(parts.header).hexdigest())
    ctx.outbox.wake()
    status = await run_in_threadpool(ctx.repository.status, taken)
    assert status is not None  # committed by _take; only a settled message is ever dropped
    return _status(status)


async def get_message(ctx: TpfContext, message_id: str, peer: Peer) -> MessageStatus | DeliveredMessage:
    """Where a message is: queued, delivered (with the registry's receipt), rejected or dead-letter; only to the
    party whose message it is, a municipality or the population register (``wrong-peer`` otherwise).

    The id is 122 random bits known to the sender; the answer holds only what the receipt holds (ids, counts,
    digests), never a number, a pseudonym or payload content."""
    return await run_in_threadpool(_message, ctx, message_id, peer)


def _take(ctx: TpfContext, parts: MessageParts, peer: Peer) -> str | MessageStatus:
    """Steps 1-5 in the calling (worker) thread: the message id once the message is queued for its first
    attempt, or the earlier answer's status (202) for a message queued before."""
    digest = hashlib.sha256(parts.header).hexdigest()
    header: SubmissionHeader | None = None  # once the sender is proven: its signature holds, from its connection
    checked = False  # once the parts are the ones the header names (step 5)
    try:
        with ctx.metrics.stage("verify"):
            signed = checks.verify_submission(
                ctx.directory,
                parts.header,
                parts.signature,
                accept_register_extracts=ctx.pseudonymisation.accept_register_extracts,
            )
            if not peer.is_party(signed.sender):
                # Signed by a municipality, brought by another party: refused before anything is looked up for it
                # (not even its earlier answer). Not final: the municipality's own delivery is taken as ever.
                raise wrong_peer()
            header = signed
            earlier = _earlier_answer(ctx, header.message_id, digest)
            if earlier is None:
                with final():  # decided by what the municipality signed (spec section 9)
                    checks.check_recipients(ctx.keys.party, ctx.directory, header)
                checks.check_digests(header, parts.identity, parts.payload)
                checked = True
        if earlier is not None:
            return earlier
        with final():
            checks.check_fresh(header, max_age=ctx.max_age, max_skew=ctx.max_skew)
            with ctx.metrics.stage("pseudonymise"):
                staged, done = _stage(ctx, header, parts)
        if not ctx.outbox.enqueue(staged, header, parts.header, done):
            # A concurrent request took the same message first: answered as its re-delivery.
            earlier = _earlier_answer(ctx, header.message_id, digest)
            assert earlier is not None  # the concurrent request's row is committed
            return earlier
    except StoredAnswer as answer:
        ctx.metrics.replay(answer.answer)
        if header is None:
            raise
        # A final refusal kept before refusals were signed carries no signature: signed now, as it is answered.
        raise _signed(ctx, answer, header.message_id, digest) from None
    except Problem as problem:
        if header is None:
            _refused(ctx, problem, header, digest, peer, checked=checked)
            raise
        # Signed before it is remembered, so that the same message is answered with the same signed document.
        refusal = _signed(ctx, problem, header.message_id, digest)
        _refused(ctx, refusal, header, digest, peer, checked=checked)
        raise refusal from None
    finally:
        parts.close()
    log.info(
        "message pseudonymised",
        message_id=header.message_id,
        municipality=header.municipality,
        year=header.year,
        records=done.header.counts.records,
        refused=done.header.counts.refused,
    )
    return header.message_id


def _stage(ctx: TpfContext, header: SubmissionHeader, parts: MessageParts) -> tuple[Path, Pseudonymised]:
    """Pseudonymise into the outbox's staging folder, with every other file of the delivery."""
    work = functools.partial(pseudonymising.pseudonymise, ctx.pseudonymisation, header, parts.header, parts.identity)
    return ctx.outbox.stage(parts.header, parts.signature, parts.payload, work)


def _earlier_answer(ctx: TpfContext, message_id: str, digest: str) -> MessageStatus | None:
    """The answer for a message id seen before: its receipt (409), the refusal that was final for it, or its
    status while it is queued; answered from what is stored (raised as a :class:`StoredAnswer`, no audit entry).
    A conflict if the id came with another header. None if it is new, or was rejected (not for good) or
    dead-lettered here: the municipality's re-delivery is then taken afresh."""
    # The state first: a receipt, or a refusal remembered as final, commits in the transaction that settles the
    # message, so read after the state they are at least as new. Read before it, another worker could deliver
    # the message in between, and a delivered message would look like a dead one to forget and take again.
    status = ctx.repository.status(message_id)
    previous = ctx.repository.receipt(message_id)
    if previous is not None:
        receipt, signature = previous
        if receipt.get("submission_sha256") != digest:
            raise _conflict()
        raise StoredAnswer(
            "receipt",
            Problem(
                ProblemType.REPLAYED_MESSAGE,
                "This message id was processed before; the original receipt is included",
                receipt=receipt,
                signature=signature,
            ).document(),
        )
    remembered = ctx.repository.remembered_refusal(message_id)
    if remembered is not None:
        if remembered.submission_sha256 != digest:
            raise _conflict()
        raise remembered.answer()
    if status is None:
        return None
    if status.submission_sha256 != digest:
        raise _conflict()
    if status.state == MessageState.QUEUED:
        return _status(status)
    ctx.repository.forget(message_id)
    return None


def _refused(
    ctx: TpfContext, problem: Problem, header: SubmissionHeader | None, digest: str, peer: Peer, *, checked: bool
) -> None:
    """Put a refusal of the message on record, and count it: the one place that does.

    Only a proven sender's message goes on the signed audit log (``header``: its signature held, and it came over
    the signer's connection); one refused before that is counted and logged (services.kit.refusals.unproven), so
    that junk costs no entry. A final one (spec section 9) is remembered with its audit entry, once per message;
    any other gets an audit entry by message id once the parts the header names held too, else as ``unknown``."""
    if header is None:
        unproven(ctx.metrics, problem, peer)
        return
    # A reused message id is about the municipality's verified header alone, not its parts: on record by id.
    attributable = checked or is_final(problem) or problem.slug == ProblemType.MESSAGE_ID_CONFLICT
    recorded = ctx.repository.record_refusal(problem, header, digest, attributable=attributable)
    if recorded is Recorded.SAME:  # the same message, refused at the same moment or answered from here
        ctx.metrics.replay("refusal")
    else:
        ctx.metrics.message("refused")


def _signed(ctx: TpfContext, problem: Problem, message_id: str, digest: str) -> Problem:
    """``problem`` with the TPF's signed refusal if it is final for the message (services.kit.signed_refusals):
    the only refusal the gateway ends a submission on."""
    return signed_if_final(ctx.keys.party, problem, message_id, digest)


def _conflict() -> Problem:
    return Problem(ProblemType.MESSAGE_ID_CONFLICT, "This message id was used before for a different submission")


def _message(ctx: TpfContext, message_id: str, peer: Peer) -> MessageStatus | DeliveredMessage:
    sender = ctx.repository.sender_of(message_id)
    if sender is not None and not peer.is_party(sender):
        raise wrong_peer()
    status = ctx.repository.status(message_id)
    receipt = ctx.repository.receipt(message_id)
    if status is None:
        if receipt is None:
            raise Problem(ProblemType.NOT_FOUND, "No message with this id")
        return DeliveredMessage(
            message_id=message_id, state=MessageState.DELIVERED, receipt=receipt[0], signature=receipt[1]
        )
    if status.state == MessageState.REJECTED:
        return _rejected(ctx, status)
    return _status(status, receipt)


def _rejected(ctx: TpfContext, status: Status) -> MessageStatus:
    """A rejected message's status, with the TPF's signed refusal if the rejection is final for it: only then may
    the gateway end the submission on it (docs/envelope-v1.md 10.3). A rejection that is not final carries none;
    the gateway sends the message again, and the TPF takes it afresh."""
    answer = _status(status)
    remembered = ctx.repository.remembered_refusal(status.message_id)
    if remembered is None or remembered.submission_sha256 != status.submission_sha256:
        return answer
    signed = _signed(ctx, remembered.answer(), status.message_id, status.submission_sha256)
    if REFUSAL not in signed.extensions:
        return answer
    return answer.model_copy(
        update={"refusal": signed.extensions[REFUSAL], "signature": signed.extensions["signature"]}
    )


def _status(status: Status, receipt: StoredReceipt | None = None) -> MessageStatus:
    """The wire view of an outbox row; the receipt's members only when given (absent, not null, otherwise)."""
    delivered = {} if receipt is None else {"receipt": receipt[0], "signature": receipt[1]}
    return MessageStatus(
        message_id=status.message_id,
        state=MessageState(status.state),
        attempts=status.attempts,
        last_error=status.last_error,
        status_url=status_url(status.message_id),
        **delivered,
    )
