"""What the TPF does: verify a municipality's message, swap identity numbers for pseudonyms, forward.

The TPF opens only the identity part. The payload part passes through as the bytes it received, checked
against the digest in the municipality's signed header; there is no code here (nor importable here: see the
import contracts) that could open it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import BinaryIO

import structlog
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.bodies import Upload
from services.kit.clock import require_fresh
from services.kit.problems import invalid_envelope, refused
from services.kit.refusals import RefusalMemory
from shared.envelope import (
    DeliveryCounts,
    DeliveryHeader,
    DeliveryParts,
    InvalidEnvelope,
    MessageRefused,
    SubmissionHeader,
    require_digest,
    sign_header,
    utc_timestamp,
    verify_header,
)
from shared.envelope.identity import open_identities
from shared.envelope.pseudonyms import PseudonymSealer
from shared.keys import PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.pseudonym import Pseudonymiser, screen

log = structlog.get_logger("tpf")
# The payload's content format the registry reads (shared.iplos.payload.PAYLOAD_FORMAT, which the TPF may not
# import: it has no business decoding payloads).
PAYLOAD_CONTENT = "iplos-payload/2"


@dataclass
class TpfContext:
    keys: TpfKeys
    pseudonym_key_version: int
    accept_synthetic_numbers: bool
    max_age: dt.timedelta
    max_skew: dt.timedelta
    directory: PublicDirectory
    engine: Engine
    audit: AuditLog
    refusals: RefusalMemory


@dataclass(frozen=True)
class Pseudonymised:
    delivery_header: bytes
    delivery_signature: bytes
    header: DeliveryHeader


def verify_submission(ctx: TpfContext, header_bytes: bytes, signature: bytes) -> SubmissionHeader:
    """Steps 1-3 of spec 10.1: the header's signature, its signer a registered municipality, the one it names.
    Raise a Problem on any failure. Until this holds nothing about the message is attributable to anyone."""
    try:
        header, signer = verify_header(header_bytes, signature, ctx.directory, SubmissionHeader)
        if signer.role != "municipality":
            raise MessageRefused("signer-not-authorised", "only a registered municipality may submit")
        if signer.municipality != header.municipality:
            raise MessageRefused("municipality-mismatch", "the header's municipality is not the signer's")
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    except InvalidEnvelope:
        raise invalid_envelope() from None
    return header


def check_recipients(ctx: TpfContext, header: SubmissionHeader) -> None:
    """Step 4: both parts are sealed for the keys the header must name. Decided by the signed header alone."""
    party = ctx.keys.party
    if header.parts.identity.recipient != party.party or header.parts.identity.recipient_kid != party.encryption_kid:
        raise refused("wrong-recipient", "the identity part is not sealed for this TPF's key")
    # Refuse a misaddressed payload here rather than forward something the registry cannot open.
    registry_kid, _ = ctx.directory.encryption_key("registry")
    if header.parts.payload.recipient != "registry" or header.parts.payload.recipient_kid != registry_kid:
        raise refused("wrong-recipient", "the payload part is not sealed for the registry's key")


def check_digests(header: SubmissionHeader, identity: Upload, payload: Upload) -> None:
    """Step 5: the parts received are the ones the header names (the opaque error otherwise)."""
    try:
        require_digest(identity.sha256, identity.size, header.parts.identity.sha256, header.parts.identity.size)
        require_digest(payload.sha256, payload.size, header.parts.payload.sha256, header.parts.payload.size)
    except InvalidEnvelope:
        raise invalid_envelope() from None


def check_fresh(ctx: TpfContext, header: SubmissionHeader) -> None:
    """The municipality's signed timestamp lies in the window (checked only once the signature holds: the
    timestamp is the municipality's, not the network's)."""
    require_fresh(header.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)


def pseudonymise(
    ctx: TpfContext, header: SubmissionHeader, header_bytes: bytes, identity: Upload, out: BinaryIO
) -> Pseudonymised:
    """Open the identity part and seal (reference, pseudonym) pairs for the registry into ``out``.

    An invalid number gets no pseudonym; it is reported by its record reference and the rule it broke.
    """
    if header.parts.payload.content != PAYLOAD_CONTENT:
        # The TPF cannot read the payload, but it need not forward one the registry cannot read either.
        raise refused("unsupported-format", "the payload part's content format is not supported")
    registry_kid, registry_key = ctx.directory.encryption_key("registry")
    pseudonymiser = Pseudonymiser(ctx.keys.pseudonym_keys[ctx.pseudonym_key_version])
    sealer = PseudonymSealer(
        out,
        key_version=pseudonymiser.key_version,
        sender=ctx.keys.party.party,
        recipient="registry",
        recipient_kid=registry_kid,
        recipient_key=registry_key,
        message_id=header.message_id,
    )
    seen: set[str] = set()
    pseudonymised = refused_count = 0
    try:
        for entry in open_identities(
            identity.file,
            ctx.keys.party,
            header.parts.identity,
            sender=header.sender,
            message_id=header.message_id,
        ):
            if entry.ref in seen or len(seen) >= header.record_count:
                raise InvalidEnvelope()  # a repeated reference, or more records than the signed header counts
            seen.add(entry.ref)
            rule = screen(entry.fid, entry.fid_type, accept_synthetic=ctx.accept_synthetic_numbers)
            if isinstance(rule, str):
                sealer.refuse(entry.ref, rule)
                refused_count += 1
                continue
            number = rule
            sealer.add(entry.ref, pseudonymiser.pseudonym(number))
            pseudonymised += 1
        if len(seen) != header.record_count:
            raise InvalidEnvelope()
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    except InvalidEnvelope:
        raise invalid_envelope() from None
    ref = sealer.close()
    delivery = DeliveryHeader(
        message_id=header.message_id,
        sender=ctx.keys.party.party,
        signer_kid=ctx.keys.party.signing_kid,
        submission_sha256=_sha256(header_bytes),
        created_at=utc_timestamp(),
        pseudonym_key_version=pseudonymiser.key_version,
        counts=DeliveryCounts(records=len(seen), pseudonymised=pseudonymised, refused=refused_count),
        parts=DeliveryParts(pseudonyms=ref),
    )
    encoded, signature = sign_header(delivery, ctx.keys.party.signing)
    return Pseudonymised(encoded, signature, delivery)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
