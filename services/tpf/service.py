"""What the TPF does: verify a municipality's message, swap identity numbers for pseudonyms, forward.

The TPF opens only the identity part. The payload part passes through as the bytes it received, checked
against the digest in the municipality's signed header; there is no code here (nor importable here: see the
import contracts) that could open it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import structlog
from sqlalchemy import Engine, insert, select

from services.kit.bodies import Upload
from services.kit.clock import require_fresh
from services.kit.http import response_json
from services.kit.problems import Problem, invalid_envelope, refused
from services.tpf.models import audit_entries, receipts
from shared import fnr
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
from shared.envelope import receipts as receipts_module
from shared.envelope import transport as wire
from shared.envelope.identity import open_identities
from shared.envelope.pseudonyms import PseudonymSealer
from shared.keys import PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.pseudonym import Pseudonymiser

log = structlog.get_logger("tpf")


@dataclass
class TpfContext:
    keys: TpfKeys
    pseudonym_key_version: int
    accept_synthetic_numbers: bool
    max_age: dt.timedelta
    max_skew: dt.timedelta
    directory: PublicDirectory
    engine: Engine
    registry_url: str
    tmp_dir: Path
    client: httpx.AsyncClient


@dataclass(frozen=True)
class Pseudonymised:
    delivery_header: bytes
    delivery_signature: bytes
    pseudonyms: IO[bytes]
    header: DeliveryHeader


def check_submission(
    ctx: TpfContext, header_bytes: bytes, signature: bytes, identity: Upload, payload: Upload
) -> SubmissionHeader:
    """Verify signature, signer, recipient and both parts' digests; raise a Problem on any failure."""
    try:
        header, signer = verify_header(header_bytes, signature, ctx.directory, SubmissionHeader)
        if signer.role != "municipality":
            raise MessageRefused("signer-not-authorised", "only a registered municipality may submit")
        if signer.municipality != header.municipality:
            raise MessageRefused("municipality-mismatch", "the header's municipality is not the signer's")
        party = ctx.keys.party
        if (
            header.parts.identity.recipient != party.party
            or header.parts.identity.recipient_kid != party.encryption_kid
        ):
            raise MessageRefused("wrong-recipient", "the identity part is not sealed for this TPF's key")
        # Refuse a misaddressed payload here rather than forward something the registry cannot open.
        registry_kid, _ = ctx.directory.encryption_key("registry")
        if header.parts.payload.recipient != "registry" or header.parts.payload.recipient_kid != registry_kid:
            raise MessageRefused("wrong-recipient", "the payload part is not sealed for the registry's key")
        require_digest(identity.sha256, identity.size, header.parts.identity.sha256, header.parts.identity.size)
        require_digest(payload.sha256, payload.size, header.parts.payload.sha256, header.parts.payload.size)
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    except InvalidEnvelope:
        raise invalid_envelope() from None
    # Checked only once the signature holds: the timestamp is the municipality's, not the network's.
    require_fresh(header.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)
    return header


def pseudonymise(ctx: TpfContext, header: SubmissionHeader, header_bytes: bytes, identity: Upload) -> Pseudonymised:
    """Open the identity part and seal (reference, pseudonym) pairs for the registry.

    An invalid number gets no pseudonym; it is reported by its record reference and the rule it broke.
    """
    registry_kid, registry_key = ctx.directory.encryption_key("registry")
    pseudonymiser = Pseudonymiser(ctx.keys.pseudonym_keys[ctx.pseudonym_key_version])
    ctx.tmp_dir.mkdir(parents=True, exist_ok=True)
    out = _temporary(ctx.tmp_dir)
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
            rule = _refusal(entry.fid, entry.fid_type, ctx.accept_synthetic_numbers)
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
        out.close()
        raise refused(exc.code, str(exc)) from None
    except InvalidEnvelope:
        out.close()
        raise invalid_envelope() from None
    ref = sealer.close()
    out.seek(0)
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
    return Pseudonymised(encoded, signature, out, delivery)


# Which parsed kinds each declared number type (fid/@type) may be.
_DECLARED_KINDS = {
    "FNR": frozenset({fnr.FnrKind.FNR, fnr.FnrKind.SYNTHETIC_TENOR}),
    "DNR": frozenset({fnr.FnrKind.D_NUMBER}),
    "HNR": frozenset({fnr.FnrKind.H_NUMBER}),
    "FHN": frozenset({fnr.FnrKind.FH_NUMBER}),
}


def _refusal(value: str, declared: str, accept_synthetic: bool) -> fnr.IdentityNumber | str:
    """The parsed number, or the rule it breaks (reported by reference; the number itself never leaves)."""
    try:
        number = fnr.parse(value)
    except fnr.InvalidIdentityNumber as exc:
        return exc.rule
    if number.kind not in _DECLARED_KINDS.get(declared, frozenset()):
        return "type-mismatch"
    if number.synthetic and not accept_synthetic:
        return "synthetic-number"
    return number


async def forward(
    ctx: TpfContext,
    header_bytes: bytes,
    signature: bytes,
    done: Pseudonymised,
    payload: Upload,
) -> tuple[dict[str, Any], str]:
    """Deliver to the registry; return its verified receipt (as a JSON object) and signature."""
    payload.file.seek(0)
    files = {
        wire.DELIVERY_SUBMISSION_HEADER: ("submission-header.json", header_bytes, "application/json"),
        wire.DELIVERY_SUBMISSION_SIGNATURE: ("submission.sig", signature, "application/octet-stream"),
        wire.DELIVERY_HEADER: ("delivery-header.json", done.delivery_header, "application/json"),
        wire.DELIVERY_SIGNATURE: ("delivery.sig", done.delivery_signature, "application/octet-stream"),
        wire.PSEUDONYMS: ("pseudonyms.part", done.pseudonyms, "application/octet-stream"),
        # The payload ciphertext goes on byte for byte, as it arrived.
        wire.PAYLOAD: ("payload.part", payload.file, "application/octet-stream"),
    }
    try:
        response = await ctx.client.post(f"{ctx.registry_url}/v1/deliveries", files=files)
    except httpx.HTTPError:
        raise Problem("registry-unavailable", 503, "The registry could not be reached; try again later") from None
    body = response_json(response)
    if response.status_code in (200, 201) or (response.status_code == 409 and "receipt" in body):
        return verify_receipt(ctx.directory, body, done.header.message_id, done.header.submission_sha256)
    if response.status_code >= 500:
        raise Problem("registry-unavailable", 503, "The registry is not able to take deliveries; try again later")
    raise Problem(
        "registry-refused",
        502,
        "The registry refused the delivery",
        upstream_type=body.get("type"),
        upstream_status=response.status_code,
    )


def verify_receipt(
    directory: PublicDirectory, body: dict[str, Any], message_id: str, submission_sha256: str
) -> tuple[dict[str, Any], str]:
    try:
        receipts_module.verify_receipt(directory, body, message_id, submission_sha256)
    except (InvalidEnvelope, MessageRefused):
        raise Problem("registry-refused", 502, "The registry's receipt does not verify") from None
    return body["receipt"], body["signature"]


def stored_receipt(engine: Engine, message_id: str) -> tuple[dict[str, Any], str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(receipts.c.receipt, receipts.c.signature).where(receipts.c.message_id == message_id)
        ).first()
    return (json.loads(row.receipt), row.signature) if row else None


def record_forwarded(
    engine: Engine,
    header: SubmissionHeader,
    done: Pseudonymised,
    receipt: dict[str, Any],
    signature: str,
) -> None:
    """One transaction: the audit entries and the receipt, so a re-delivery is answered, never reprocessed."""
    now = dt.datetime.now(dt.UTC)
    common = {
        "message_id": header.message_id,
        "municipality": header.municipality,
        "year": header.year,
        "sequence": header.sequence,
        "records": done.header.counts.records,
        "pseudonymised": done.header.counts.pseudonymised,
        "refused": done.header.counts.refused,
        "identity_sha256": header.parts.identity.sha256,
        "payload_sha256": header.parts.payload.sha256,
        "pseudonyms_sha256": done.header.parts.pseudonyms.sha256,
        "key_version": done.header.pseudonym_key_version,
        "at": now,
    }
    with engine.begin() as conn:
        conn.execute(
            insert(audit_entries),
            [
                {**common, "event": "pseudonymised", "outcome": None},
                {**common, "event": "forwarded", "outcome": str(receipt.get("status"))},
            ],
        )
        conn.execute(
            insert(receipts),
            {
                "message_id": header.message_id,
                "receipt": json.dumps(receipt),
                "signature": signature,
                "at": now,
            },
        )


def record_refusal(engine: Engine, problem: Problem, header: SubmissionHeader | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(audit_entries),
            {
                "message_id": header.message_id if header else "unknown",
                "event": "refused",
                "municipality": header.municipality if header else None,
                "year": header.year if header else None,
                "sequence": header.sequence if header else None,
                "outcome": problem.slug,
                "at": dt.datetime.now(dt.UTC),
            },
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _temporary(directory: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=directory)
