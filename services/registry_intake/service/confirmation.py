"""confirm: a municipality's signed confirmation that its held submission replace the active one (spec 10.5)."""

from __future__ import annotations

import hashlib
import hmac
import json

import structlog

from services.kit.clock import require_fresh
from services.kit.problems import Problem, ProblemType, envelope_problems, invalid_envelope
from services.kit.tls import Peer, wrong_peer
from services.registry_intake.repository import NotHeld, StaleSubmission
from services.registry_intake.schemas import SignedReceipt
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.errors import NotFound
from services.registry_intake.service.receipts import receipt_for
from services.registry_intake.submissions import StoredSubmission
from shared.envelope import InvalidEnvelope
from shared.envelope.receipts import verify_confirmation

__all__ = ["confirm"]

log = structlog.get_logger("registry")


def confirm(ctx: RegistryContext, submission_id: str, body: bytes, peer: Peer) -> SignedReceipt:
    """Apply the held submission ``submission_id`` on the confirmation ``body`` brought by ``peer`` (the
    connection's party: the municipality that signed it); answer with its new receipt (it
    is the active one now), or raise the :class:`Problem` that refuses it. Blocking: run in a worker thread."""
    with ctx.metrics.stage("confirm"):
        stored = _apply(ctx, submission_id, body, peer)
    ctx.metrics.stored(stored, ctx.queries.finding_counts(stored.message_id))
    log.info(
        "held submission confirmed",
        message_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        records=stored.record_count,
        supersedes=stored.supersedes,
    )
    return receipt_for(ctx, stored)


def _apply(ctx: RegistryContext, submission_id: str, body: bytes, peer: Peer) -> StoredSubmission:
    """Verify the confirmation and apply its held submission.

    The confirmation travels as ``{"confirmation": {...}, "signature": "<base64>"}``, like a receipt. It must be
    signed by the municipality that signed the held submission, about that very submission header (its SHA-256),
    and fresh. Only then does the repository swap the year's active submission, in one transaction.
    """
    with envelope_problems(ValueError, RecursionError):  # a body that is not JSON is no confirmation either
        document = json.loads(body)
        if not isinstance(document, dict):
            raise InvalidEnvelope()
        verified, encoded = verify_confirmation(ctx.directory, document)
    if not peer.is_municipality(verified.municipality):
        raise wrong_peer()
    if verified.message_id != submission_id:
        raise invalid_envelope()
    require_fresh(verified.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)
    held = ctx.queries.get(submission_id)
    if held is None:
        raise NotFound()
    if (held.municipality, held.year) != (verified.municipality, verified.year) or not hmac.compare_digest(
        held.header_sha256.encode(), verified.submission_sha256.encode()
    ):
        raise Problem(ProblemType.CONFIRMATION_MISMATCH, "The confirmation names another submission than this one")
    try:
        return ctx.repository.confirm(submission_id, hashlib.sha256(encoded).hexdigest())
    except NotHeld as exc:
        raise Problem(
            ProblemType.NOT_HELD,
            "This submission is not held; its receipt says what it is",
            **receipt_for(ctx, exc.submission).model_dump(mode="json"),
        ) from None
    except StaleSubmission as exc:
        raise Problem(
            ProblemType.STALE_SEQUENCE,
            "A submission with the same or a newer sequence became active; the held one was refused",
            active_sequence=exc.active_sequence,
            **receipt_for(ctx, exc.refused).model_dump(mode="json"),
        ) from None
