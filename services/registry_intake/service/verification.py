"""Spec 10.2 steps 1-7 for a delivery, before anything is opened: signatures, signers, binding, recipients, digests.

Verification comes before any decryption: the TPF's signature over the delivery header, the municipality's
signature over the submission header, the binding of the two (same message id, the delivery names the
submission header's digest), the recipient of every part, and every part's digest. Then the policy checks that
no data could change: the forwarding time's window, a reportable year, at least one person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.kit.bodies import Upload
from services.kit.clock import require_fresh, require_sequence_in_window
from services.kit.problems import Problem, ProblemType, envelope_problems
from services.kit.refusals import finalised
from services.registry_intake.service.context import RegistryContext
from shared.envelope import (
    DeliveryHeader,
    InvalidEnvelope,
    MessageRefused,
    PartRef,
    SubmissionHeader,
    require_digest,
    verify_header,
)
from shared.envelope.identity import CONTENT as IDENTITY_CONTENT
from shared.errors import UnknownKey
from shared.iplos.reporting_year import year_out_of_range
from shared.keys import POPULATION_REGISTER_ROLE, PublicDirectory
from shared.population import REGISTER_PAYLOAD_FORMAT

__all__ = [
    "Delivery",
    "VerifiedDelivery",
    "check_fresh",
    "check_parts",
    "check_sequence",
    "require_reportable",
    "verify_delivery",
]


@dataclass(frozen=True)
class Delivery:
    """A delivery as the route read it from the form: the two signed headers and the two sealed parts (spooled,
    with their sizes and digests as they arrived)."""

    submission_header: bytes
    submission_signature: bytes
    delivery_header: bytes
    delivery_signature: bytes
    pseudonyms: Upload
    payload: Upload


@dataclass(frozen=True)
class VerifiedDelivery:
    submission: SubmissionHeader
    submission_sha256: str
    delivery: DeliveryHeader
    delivery_sha256: str


def verify_delivery(ctx: RegistryContext, received: Delivery) -> VerifiedDelivery:
    """Spec 10.2 steps 1-4: the TPF's delivery header and the municipality's submission header verify, each
    signer has its role, and the two are bound (same message id, the delivery names the submission's digest)."""
    submission_bytes, delivery_bytes = received.submission_header, received.delivery_header
    with envelope_problems():
        delivery, tpf = verify_header(delivery_bytes, received.delivery_signature, ctx.directory, DeliveryHeader)
        if tpf.role != "tpf":
            raise MessageRefused("signer-not-authorised", "only the TPF may deliver to the registry")
        submission, municipality = verify_header(
            submission_bytes, received.submission_signature, ctx.directory, SubmissionHeader
        )
        extract = submission.parts.payload.content == REGISTER_PAYLOAD_FORMAT
        if municipality.role == POPULATION_REGISTER_ROLE:
            # The register's extract of a municipality (docs/population-register.md), and nothing else.
            if not extract:
                raise MessageRefused("signer-not-authorised", "the population register sends register extracts only")
        elif municipality.role != "municipality":
            raise MessageRefused("signer-not-authorised", "the submission is not signed by a municipality")
        elif extract:
            raise MessageRefused("signer-not-authorised", "only the population register sends register extracts")
        elif municipality.municipality != submission.municipality:
            raise MessageRefused("municipality-mismatch", "the header's municipality is not the signer's")
        submission_sha256 = hashlib.sha256(submission_bytes).hexdigest()
        if delivery.message_id != submission.message_id:
            raise InvalidEnvelope()
        require_digest(delivery.submission_sha256, 0, submission_sha256, 0)
    return VerifiedDelivery(submission, submission_sha256, delivery, hashlib.sha256(delivery_bytes).hexdigest())


def check_parts(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery) -> None:
    """Steps 5-7: every part is sealed for this registry's key, the counts add up, and the parts received are
    the ones the headers name. A payload sealed for another key is in what the municipality signed: final for
    the message id (spec section 9); the rest is the TPF's delivery or the transport, and is not."""
    own = ctx.keys
    submission, delivery = verified.submission, verified.delivery
    pseudonyms, payload = received.pseudonyms, received.payload
    p = submission.parts.payload
    if p.recipient != own.party or p.recipient_kid != own.encryption_kid:
        raise finalised(Problem(ProblemType.WRONG_RECIPIENT, "a part is not sealed for this registry's key"))
    q = delivery.parts.pseudonyms
    if q.recipient != own.party or q.recipient_kid != own.encryption_kid:
        raise Problem(ProblemType.WRONG_RECIPIENT, "a part is not sealed for this registry's key")
    # The TPF that pseudonymised the identity part must be the one it was sealed for: a delivery of pseudonyms
    # for an identity part its signer could not open is made up (docs/envelope-v1.md 10.2, step 5). About the
    # delivery, not what the municipality signed: not final.
    with envelope_problems():
        _require_sealed_for(ctx.directory, submission.parts.identity, delivery.sender)
        counts = delivery.counts
        if counts.records != submission.record_count or counts.pseudonymised + counts.refused != counts.records:
            raise InvalidEnvelope()
        require_digest(payload.sha256, payload.size, p.sha256, p.size)
        require_digest(pseudonyms.sha256, pseudonyms.size, q.sha256, q.size)


def check_fresh(ctx: RegistryContext, verified: VerifiedDelivery) -> None:
    """The TPF's signed forwarding time lies in the window (fresh even when the municipality's message waited in
    an outbox). Applied after the replay check: a message decided before is answered as it was."""
    require_fresh(verified.delivery.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)


def check_sequence(ctx: RegistryContext, verified: VerifiedDelivery) -> None:
    """The municipality's sequence lies no later than its signed timestamp and this registry's clock allow (spec
    7.3), checked here too rather than trusted to the TPF: a sequence beyond it would make every later real export
    of the municipality and year stale. About what the municipality signed: final for the message id."""
    try:
        submission = verified.submission
        require_sequence_in_window(submission.sequence, submission.created_at, max_skew=ctx.max_skew)
    except Problem as problem:
        raise finalised(problem) from None


def require_reportable(submission: SubmissionHeader) -> None:
    """Policy refusals of a verified submission that no data could change, final for its message id (spec
    section 10.6): a year the register does not take, and an export without persons (which would otherwise
    replace, and so erase, the municipality's year)."""
    why = year_out_of_range(submission.year)
    if why is not None:
        raise finalised(Problem(ProblemType.REPORTING_YEAR_OUT_OF_RANGE, f"The submission's {why}; nothing was stored"))
    if submission.record_count == 0:
        raise finalised(
            Problem(
                ProblemType.EMPTY_SUBMISSION,
                "The submission has no persons; it would erase the year, so nothing was stored",
            )
        )


def _require_sealed_for(directory: PublicDirectory, ref: PartRef, party: str) -> None:
    if ref.recipient != party:
        raise MessageRefused("wrong-recipient", "the identity part is not sealed for the TPF that delivered it")
    try:
        entry = directory.entry(ref.recipient_kid)
    except UnknownKey:
        raise MessageRefused("wrong-recipient", "the identity part is not sealed for a key of that TPF") from None
    if entry.party != party or entry.alg != "X25519":
        raise MessageRefused("wrong-recipient", "the identity part is not sealed for a key of that TPF")
    if ref.content != IDENTITY_CONTENT:
        raise MessageRefused("unsupported-format", "the identity part's content format is not supported")
