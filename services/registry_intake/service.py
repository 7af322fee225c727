"""What the registry intake does with a delivery: verify, open, join, store, replace, answer with a receipt.

Verification comes before any decryption: the TPF's signature over the delivery header, the municipality's
signature over the submission header, the binding of the two (same message id, the delivery names the
submission header's digest), the recipient of every part, and every part's digest. Only then are the
pseudonym and payload parts opened, and the records are joined by reference and stored in one transaction
that also retires the previous submission of the same municipality and year.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.bodies import Upload
from services.kit.clock import require_fresh
from services.kit.problems import Problem, invalid_envelope, refused
from services.kit.refusals import RefusalMemory, finalised
from services.registry_intake.monitoring import RegistryMetrics
from services.registry_intake.repository import (
    IncomingSubmission,
    NotHeld,
    StaleSubmission,
    StoredRecord,
    StoredSubmission,
    SubmissionRepository,
)
from shared.envelope import (
    DeliveryHeader,
    InvalidEnvelope,
    MessageRefused,
    PartRef,
    Receipt,
    ReportHeader,
    ReportParts,
    SubmissionHeader,
    require_digest,
    sign_header,
    utc_timestamp,
    verify_header,
)
from shared.envelope.identity import CONTENT as IDENTITY_CONTENT
from shared.envelope.payload_open import open_payload
from shared.envelope.pseudonyms import PseudonymEntry, open_pseudonyms
from shared.envelope.receipts import carry, verify_confirmation
from shared.envelope.report import ReportFinding, ReportSealer, ReportSummary
from shared.errors import UnknownKey
from shared.iplos.controls import IDENTITY_OK, ControlRunner, control
from shared.iplos.model import PayloadRecord
from shared.iplos.payload import PAYLOAD_FORMAT, PayloadDecodeError, decode_payload
from shared.iplos.reporting_year import year_out_of_range
from shared.keys import PartyKeys, PublicDirectory


@dataclass
class RegistryContext:
    keys: PartyKeys
    directory: PublicDirectory
    engine: Engine
    repository: SubmissionRepository
    max_age: dt.timedelta
    max_skew: dt.timedelta
    audit: AuditLog
    refusals: RefusalMemory
    metrics: RegistryMetrics = field(default_factory=RegistryMetrics)
    #: A submission declaring fewer persons than this share of the active one's is held, not applied, until the
    #: municipality confirms it (0: never held).
    hold_below: float = 0.5


@dataclass(frozen=True)
class VerifiedDelivery:
    submission: SubmissionHeader
    submission_sha256: str
    delivery: DeliveryHeader
    delivery_sha256: str


def verify_delivery(
    ctx: RegistryContext,
    submission_bytes: bytes,
    submission_signature: bytes,
    delivery_bytes: bytes,
    delivery_signature: bytes,
) -> VerifiedDelivery:
    """Spec 10.2 steps 1-4: the TPF's delivery header and the municipality's submission header verify, each
    signer has its role, and the two are bound (same message id, the delivery names the submission's digest)."""
    try:
        delivery, tpf = verify_header(delivery_bytes, delivery_signature, ctx.directory, DeliveryHeader)
        if tpf.role != "tpf":
            raise MessageRefused("signer-not-authorised", "only the TPF may deliver to the registry")
        submission, municipality = verify_header(
            submission_bytes, submission_signature, ctx.directory, SubmissionHeader
        )
        if municipality.role != "municipality":
            raise MessageRefused("signer-not-authorised", "the submission is not signed by a municipality")
        if municipality.municipality != submission.municipality:
            raise MessageRefused("municipality-mismatch", "the header's municipality is not the signer's")
        submission_sha256 = hashlib.sha256(submission_bytes).hexdigest()
        if delivery.message_id != submission.message_id:
            raise InvalidEnvelope()
        require_digest(delivery.submission_sha256, 0, submission_sha256, 0)
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    except InvalidEnvelope:
        raise invalid_envelope() from None
    return VerifiedDelivery(submission, submission_sha256, delivery, hashlib.sha256(delivery_bytes).hexdigest())


def check_parts(ctx: RegistryContext, verified: VerifiedDelivery, pseudonyms: Upload, payload: Upload) -> None:
    """Steps 5-7: every part is sealed for this registry's key, the counts add up, and the parts received are
    the ones the headers name. A payload sealed for another key is in what the municipality signed: final for
    the message id (spec section 9); the rest is the TPF's delivery or the transport, and is not."""
    own = ctx.keys
    submission, delivery = verified.submission, verified.delivery
    p = submission.parts.payload
    if p.recipient != own.party or p.recipient_kid != own.encryption_kid:
        raise finalised(refused("wrong-recipient", "a part is not sealed for this registry's key"))
    q = delivery.parts.pseudonyms
    if q.recipient != own.party or q.recipient_kid != own.encryption_kid:
        raise refused("wrong-recipient", "a part is not sealed for this registry's key")
    # The TPF that pseudonymised the identity part must be the one it was sealed for: a delivery of pseudonyms
    # for an identity part its signer could not open is made up (docs/envelope-v1.md 10.2, step 5). About the
    # delivery, not what the municipality signed: not final.
    try:
        _require_sealed_for(ctx.directory, submission.parts.identity, delivery.sender)
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    try:
        counts = delivery.counts
        if counts.records != submission.record_count or counts.pseudonymised + counts.refused != counts.records:
            raise InvalidEnvelope()
        require_digest(payload.sha256, payload.size, p.sha256, p.size)
        require_digest(pseudonyms.sha256, pseudonyms.size, q.sha256, q.size)
    except InvalidEnvelope:
        raise invalid_envelope() from None


def check_fresh(ctx: RegistryContext, verified: VerifiedDelivery) -> None:
    """The TPF's signed forwarding time lies in the window (fresh even when the municipality's message waited in
    an outbox). Applied after the replay check: a message decided before is answered as it was."""
    require_fresh(verified.delivery.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)


def require_reportable(submission: SubmissionHeader) -> None:
    """Policy refusals of a verified submission that no data could change, final for its message id (spec
    section 10.6): a year the register does not take, and an export without persons (which would otherwise
    replace, and so erase, the municipality's year)."""
    why = year_out_of_range(submission.year)
    if why is not None:
        raise finalised(Problem("reporting-year-out-of-range", 422, f"The submission's {why}; nothing was stored"))
    if submission.record_count == 0:
        raise finalised(
            Problem(
                "empty-submission",
                422,
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


def store_delivery(
    ctx: RegistryContext, verified: VerifiedDelivery, pseudonyms: Upload, payload: Upload
) -> StoredSubmission:
    """Open both parts and store the joined records; any failure rolls the whole submission back.

    A refusal caused by what the municipality signed (its payload's format, a payload that does not open, decode
    or match the signed header, payload records that do not match the identity part's references) is final for
    the message id (spec section 9); one caused by the TPF's pseudonyms part is not.
    """
    submission, delivery = verified.submission, verified.delivery
    if submission.parts.payload.content != PAYLOAD_FORMAT:
        raise Problem("unsupported-format", 422, "The payload's content format is not supported", final=True)
    payload_phase = False  # from here on, what fails is the municipality's payload (or its references)
    try:
        key_version, entries = open_pseudonyms(
            pseudonyms.file,
            ctx.keys,
            delivery.parts.pseudonyms,
            sender=delivery.sender,
            message_id=delivery.message_id,
        )
        by_ref: dict[str, PseudonymEntry] = {}
        for entry in entries:
            if entry.ref in by_ref or len(by_ref) >= submission.record_count:
                raise InvalidEnvelope()
            by_ref[entry.ref] = entry
        pseudonymised = sum(1 for entry in by_ref.values() if entry.pseudonym is not None)
        if (
            key_version != delivery.pseudonym_key_version
            or len(by_ref) != submission.record_count
            or pseudonymised != delivery.counts.pseudonymised
        ):
            raise InvalidEnvelope()
        payload_phase = True
        lines = open_payload(
            payload.file,
            ctx.keys,
            submission.parts.payload,
            content=PAYLOAD_FORMAT,
            sender=submission.sender,
            message_id=submission.message_id,
        )
        export_header, records = decode_payload(line + b"\n" for line in lines)
        if export_header.kommune_nr != submission.municipality or export_header.rapporteringsaar != submission.year:
            raise Problem(
                "payload-header-mismatch",
                422,
                "The payload's municipality or year differs from the signed header",
                final=True,
            )
        incoming = IncomingSubmission(
            message_id=submission.message_id,
            municipality=submission.municipality,
            year=submission.year,
            sequence=submission.sequence,
            sender=submission.sender,
            header_sha256=verified.submission_sha256,
            payload_sha256=submission.parts.payload.sha256,
            pseudonym_key_version=key_version,
            received_at=dt.datetime.now(dt.UTC),
            bydel_nr=export_header.bydel_nr,
            pseudonyms_sha256=delivery.parts.pseudonyms.sha256,
            delivery_sha256=verified.delivery_sha256,
            declared_records=submission.record_count,
        )
        # The logical controls run while the records stream into the database: a finding is stored with its
        # record, and the record is kept (only a schema error, caught at the gateway, rejects a submission).
        runner = ControlRunner(export_header, signer_municipality=submission.municipality)
        submission_findings = runner.submission_findings()
        findings_by_rule = Counter(finding.code for finding in submission_findings)  # _joined adds the records'
        stored = ctx.repository.store(
            incoming,
            _joined(records, by_ref, submission.record_count, runner, findings_by_rule),
            submission_findings,
            severity_of=lambda code: str(control(code).severity),
            hold_below=ctx.hold_below,
        )
        ctx.metrics.stored(stored, findings_by_rule)
        return stored
    except MessageRefused as exc:
        raise _final_if(payload_phase, refused(exc.code, str(exc))) from None
    except InvalidEnvelope:
        raise _final_if(payload_phase, invalid_envelope()) from None
    except PayloadDecodeError:
        raise finalised(Problem("invalid-payload", 422, "The payload does not follow its declared format")) from None


def _final_if(payload_phase: bool, problem: Problem) -> Problem:
    return finalised(problem) if payload_phase else problem


def _joined(
    records: Iterator[PayloadRecord],
    by_ref: dict[str, PseudonymEntry],
    expected: int,
    runner: ControlRunner,
    findings_by_rule: Counter[str],
) -> Iterator[StoredRecord]:
    """Join payload records to pseudonyms by reference (every reference must match exactly once) and run the
    logical controls on each, counting the findings by rule (for the metrics, once the store has committed)."""
    count = 0
    for record in records:
        entry = by_ref.pop(record.ref, None)
        if entry is None:
            raise _unmatched()
        count += 1
        status = entry.refused or IDENTITY_OK
        findings = runner.check(record, entry.pseudonym, status)
        findings_by_rule.update(finding.code for finding in findings)
        yield record, entry.pseudonym, status, findings
    if by_ref or count != expected:
        raise _unmatched()


def _unmatched() -> Problem:
    # Both parts are authenticated (the payload by the municipality, the pseudonyms by the TPF) but they do not
    # describe the same records: a payload record without a pseudonym line, a repeated one, or a pseudonym line
    # without its record (docs/envelope-v1.md 10.2, step 11). The answer names no reference.
    # Final for the message id (spec section 9.1), like every refusal of what the payload holds.
    return finalised(
        Problem("unmatched-records", 422, "The payload's records and the pseudonym lines do not match one to one")
    )


#: What a held submission's receipt says, for people: the numbers are in the receipt and the submission's view.
HELD_REASON: Final = (
    "held: far fewer persons than the active submission; the active one stays until the municipality confirms"
    " the replacement"
)


def receipt_for(ctx: RegistryContext, stored: StoredSubmission) -> dict[str, Any]:
    """The signed receipt, rebuilt from the stored row: the same submission in the same state always gets the
    same receipt (a held one's changes once, when it is confirmed and becomes the active one)."""
    received = stored.received_at  # always timezone-aware (the models' UTC type)
    refused = stored.status == "refused"
    receipt = Receipt(
        message_id=stored.message_id,
        sender=ctx.keys.party,
        signer_kid=ctx.keys.signing_kid,
        submission_sha256=stored.header_sha256,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        status="refused" if refused else "held" if stored.status == "held" else "stored",
        reason=HELD_REASON if stored.status == "held" else stored.refusal_reason,
        records_stored=0 if refused else stored.record_count,
        identities_refused=stored.identity_refused_count,
        supersedes=stored.supersedes,
        received_at=utc_timestamp(received),
        report_path=None if refused else f"/v1/submissions/{stored.message_id}/report",
    )
    return carry(receipt, "receipt", ctx.keys.signing)


def report_answer(ctx: RegistryContext, stored: StoredSubmission) -> bytes:
    """The answer of ``GET /v1/submissions/{id}/report``: the report as it was sealed and signed the first time
    it was asked for, and kept (``sealed_reports``). Sealed again only for a new key of the municipality's."""
    kid, _ = ctx.directory.encryption_key(_municipality_party(ctx.directory, stored.municipality))
    kept = ctx.repository.sealed_report(stored.message_id)
    if kept is not None and kept[0] == kid:
        return kept[1]
    body = json.dumps(sealed_report(ctx, stored), separators=(",", ":")).encode("ascii")
    # A submission superseded meanwhile keeps nothing; this one answer is still what was asked for.
    return ctx.repository.keep_sealed_report(stored.message_id, kid, body) or body


def sealed_report(ctx: RegistryContext, stored: StoredSubmission) -> dict[str, Any]:
    """The control report for the submitting municipality: sealed for its key, signed by the registry.

    Only references name records; the municipality's gateway alone can map them to its brukerNr. Built from
    the stored findings (which do not change while the submission is active), once: see :func:`report_answer`.
    """
    municipality = _municipality_party(ctx.directory, stored.municipality)
    kid, key = ctx.directory.encryption_key(municipality)
    findings = ctx.repository.findings(stored.message_id)
    out = io.BytesIO()
    sealer = ReportSealer(
        out,
        ReportSummary(records=stored.record_count, counts=ctx.repository.finding_counts(stored.message_id)),
        sender=ctx.keys.party,
        recipient=municipality,
        recipient_kid=kid,
        recipient_key=key,
        message_id=stored.message_id,
    )
    for finding in findings:
        sealer.add(ReportFinding(finding.code, finding.severity, finding.ref, finding.field, finding.detail))
    part = sealer.close()
    header = ReportHeader(
        message_id=stored.message_id,
        sender=ctx.keys.party,
        signer_kid=ctx.keys.signing_kid,
        recipient=municipality,
        submission_sha256=stored.header_sha256,
        created_at=utc_timestamp(),
        finding_count=len(findings),
        parts=ReportParts(report=part),
    )
    _, signature = sign_header(header, ctx.keys.signing)
    return {
        "header": header.model_dump(mode="json"),
        "signature": base64.b64encode(signature).decode("ascii"),
        "part": base64.b64encode(out.getvalue()).decode("ascii"),
    }


def confirm_held(ctx: RegistryContext, submission_id: str, body: bytes) -> StoredSubmission:
    """Verify a municipality's signed confirmation (spec section 10.5) and apply its held submission.

    The confirmation travels as ``{"confirmation": {...}, "signature": "<base64>"}``, like a receipt. It must be
    signed by the municipality that signed the held submission, about that very submission header (its SHA-256),
    and fresh. Only then does the repository swap the year's active submission, in one transaction.
    """
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise InvalidEnvelope()
        verified, encoded = verify_confirmation(ctx.directory, document)
    except MessageRefused as exc:
        raise refused(exc.code, str(exc)) from None
    except (InvalidEnvelope, ValueError, RecursionError):
        raise invalid_envelope() from None
    if verified.message_id != submission_id:
        raise invalid_envelope()
    require_fresh(verified.created_at, max_age=ctx.max_age, max_skew=ctx.max_skew)
    held = ctx.repository.get(submission_id)
    if held is None:
        raise Problem("not-found", 404, "No submission with this id")
    if (held.municipality, held.year) != (verified.municipality, verified.year) or not hmac.compare_digest(
        held.header_sha256.encode(), verified.submission_sha256.encode()
    ):
        raise Problem("confirmation-mismatch", 422, "The confirmation names another submission than this one")
    try:
        return ctx.repository.confirm(submission_id, hashlib.sha256(encoded).hexdigest())
    except NotHeld as exc:
        raise Problem(
            "not-held",
            409,
            "This submission is not held; its receipt says what it is",
            **receipt_for(ctx, exc.submission),
        ) from None
    except StaleSubmission as exc:
        raise Problem(
            "stale-sequence",
            409,
            "A submission with the same or a newer sequence became active; the held one was refused",
            active_sequence=exc.active_sequence,
            **receipt_for(ctx, exc.refused),
        ) from None


def _municipality_party(directory: PublicDirectory, kommune_nr: str) -> str:
    for party in directory.parties():
        if party.role == "municipality" and party.municipality == kommune_nr:
            return party.name
    raise Problem("not-found", 404, "No registered municipality key to seal the report for")


def submission_view(stored: StoredSubmission) -> dict[str, Any]:
    return {
        "submission_id": stored.message_id,
        "municipality": stored.municipality,
        "year": stored.year,
        "sequence": stored.sequence,
        "status": stored.status,
        "refusal_reason": stored.refusal_reason,
        "received_at": utc_timestamp(stored.received_at),
        "bydel_nr": stored.bydel_nr,
        "records": stored.record_count,
        "pseudonymised": stored.pseudonymised_count,
        "identities_refused": stored.identity_refused_count,
        "findings": stored.finding_count,
        "errors": stored.error_count,
        "warnings": stored.warning_count,
        "supersedes": stored.supersedes,
        "superseded_by": stored.superseded_by,
    }
