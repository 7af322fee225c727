"""Spec 10.2 steps 8-12 for a verified delivery: open both parts, join them by reference, run the logical
controls, and store the records in one transaction (the write repository decides: store, hold, or refuse as
stale). Any failure rolls the whole submission back.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final, cast

from services.kit.bodies import Upload
from services.kit.database import READ_ONLY
from services.kit.problems import Problem, ProblemType, envelope_problem
from services.kit.refusals import finalised
from services.registry_intake.read.probes import suspicion_reasons
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.verification import Delivery, VerifiedDelivery
from services.registry_intake.submissions import IncomingSubmission, StoredRecord, StoredSubmission
from shared.envelope import InvalidEnvelope, MessageRefused
from shared.envelope.payload_open import open_payload
from shared.envelope.pseudonyms import PseudonymEntry, open_pseudonyms
from shared.iplos.controls import IDENTITY_OK, ControlRunner, ExactKeys, control
from shared.iplos.free_fields import header_fault, record_fault
from shared.iplos.model import PayloadRecord
from shared.iplos.payload import PAYLOAD_FORMAT, PayloadDecodeError, decode_payload

__all__ = [
    "incoming_of",
    "payload_lines",
    "pseudonyms_by_ref",
    "require_header_matches",
    "store_delivery",
    "take_entry",
    "unmatched",
]


@dataclass
class _Clock:
    """Seconds spent so far in the stages that interleave in one streaming store (``store`` is the rest)."""

    open: float = 0.0
    controls: float = 0.0


def store_delivery(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery) -> StoredSubmission:
    """Open both parts and store the joined records; any failure rolls the whole submission back.

    A refusal caused by what the municipality signed (its payload's format, a payload that does not open, decode
    or match the signed header, payload records that do not match the identity part's references) is final for
    the message id (spec section 9); one caused by the TPF's pseudonyms part is not.
    """
    clock, started = _Clock(), time.perf_counter()
    # What lives when the store begins (the whole service: its modules, app, pools) is kept out of the garbage
    # collector's full passes while it runs: streaming a large delivery makes millions of short-lived containers,
    # and batches of them outlive the young generation, which would trigger those passes over everything again
    # and again. Given back afterwards (freezing at start-up instead would keep for ever whatever a test's apps
    # leave behind); a concurrent store thawing it early only costs that store the gain.
    gc.freeze()
    try:
        return _store(ctx, verified, received, clock)
    finally:
        gc.unfreeze()
        # Observed for a failed store too, as the stage timers do; "store" is what neither opening nor the controls
        # took: the database's writes, the decision's statements and the commit.
        total = time.perf_counter() - started
        ctx.metrics.observe("open", clock.open)
        ctx.metrics.observe("controls", clock.controls)
        ctx.metrics.observe("store", max(0.0, total - clock.open - clock.controls))


def _store(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery, clock: _Clock) -> StoredSubmission:
    submission = verified.submission
    if submission.parts.payload.content != PAYLOAD_FORMAT:
        raise Problem(ProblemType.UNSUPPORTED_FORMAT, "The payload's content format is not supported", final=True)
    payload_phase = False  # from here on, what fails is the municipality's payload (or its references)
    opening = time.perf_counter()
    try:
        key_version, by_ref = pseudonyms_by_ref(ctx, verified, received)
        payload_phase = True
        export_header, records = decode_payload(payload_lines(ctx, verified, received, PAYLOAD_FORMAT))
        require_header_matches(verified, export_header.kommune_nr, export_header.rapporteringsaar)
        if (fault := header_fault(export_header)) is not None:
            raise _could_carry_identity(fault)
        incoming = incoming_of(
            verified, key_version, bydel_nr=export_header.bydel_nr, declared_records=submission.record_count
        )
        # The logical controls run while the records stream into the database: a finding is stored with its
        # record, and the record is kept (only a schema error, caught at the gateway, rejects a submission).
        runner = ControlRunner(
            export_header, signer_municipality=submission.municipality, expected_records=submission.record_count
        )
        clock.open += time.perf_counter() - opening
        submission_findings = runner.submission_findings()
        findings_by_rule = Counter(finding.code for finding in submission_findings)  # _joined adds the records'
        stored = ctx.repository.store(
            incoming,
            _joined(records, by_ref, submission.record_count, runner, findings_by_rule, clock),
            submission_findings,
            severity_of=lambda code: str(control(code).severity),
            hold_below=ctx.hold_below,
        )
        ctx.metrics.stored(stored, findings_by_rule)
        _count_suspicion(ctx, stored)
        return stored
    except (MessageRefused, InvalidEnvelope) as exc:
        raise _final_if(payload_phase, envelope_problem(exc)) from None
    except PayloadDecodeError:
        raise finalised(
            Problem(ProblemType.INVALID_PAYLOAD, "The payload does not follow its declared format")
        ) from None


def _count_suspicion(ctx: RegistryContext, stored: StoredSubmission) -> None:
    """Count the committed submission if it looks like a probe of chosen numbers (issue 17, ``read/probes.py``)."""
    with ctx.engine.execution_options(**READ_ONLY).connect() as conn:
        reasons = suspicion_reasons(
            conn, stored.message_id, stored.municipality, stored.year, stored.record_count, ctx.probes
        )
    for reason in reasons:
        ctx.metrics.suspicious(reason)


def pseudonyms_by_ref(ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery) -> tuple[int, ExactKeys]:
    """Spec 10.2 step 9: the TPF's pseudonyms part opened, every entry by its reference (the pseudonym or the
    refusal code after a tag byte: :func:`identity_of`), checked against the signed headers' counts; the key
    version. ``MessageRefused`` or the opaque ``InvalidEnvelope`` otherwise (the TPF's part: not final)."""
    submission, delivery = verified.submission, verified.delivery
    key_version, entries = open_pseudonyms(
        _binary(received.pseudonyms),
        ctx.keys,
        delivery.parts.pseudonyms,
        sender=delivery.sender,
        message_id=delivery.message_id,
    )
    by_ref = ExactKeys(submission.record_count)
    pseudonymised = 0
    for entry in entries:
        if len(by_ref) >= submission.record_count:
            raise InvalidEnvelope()
        if entry.pseudonym is not None:
            added = by_ref.add(_ref_key(entry.ref), _PSEUDONYM + entry.pseudonym)
            pseudonymised += 1
        else:
            added = by_ref.add(_ref_key(entry.ref), _REFUSED + _refusal(entry).encode())
        if added is not None:
            raise InvalidEnvelope()
    if (
        key_version != delivery.pseudonym_key_version
        or len(by_ref) != submission.record_count
        or pseudonymised != delivery.counts.pseudonymised
    ):
        raise InvalidEnvelope()
    return key_version, by_ref


def payload_lines(
    ctx: RegistryContext, verified: VerifiedDelivery, received: Delivery, content: str
) -> Iterator[bytes]:
    """Spec 10.2 step 10: the payload part opened, its lines (each with its LF) for the decoder of ``content``."""
    submission = verified.submission
    lines = open_payload(
        _binary(received.payload),
        ctx.keys,
        submission.parts.payload,
        content=content,
        sender=submission.sender,
        message_id=submission.message_id,
    )
    return (line + b"\n" for line in lines)


def require_header_matches(verified: VerifiedDelivery, municipality: str, year: int) -> None:
    """The payload's own header names the signed header's municipality and year (final otherwise)."""
    if municipality != verified.submission.municipality or year != verified.submission.year:
        raise Problem(
            ProblemType.PAYLOAD_HEADER_MISMATCH,
            "The payload's municipality or year differs from the signed header",
            final=True,
        )


def incoming_of(
    verified: VerifiedDelivery, key_version: int, *, bydel_nr: str | None = None, declared_records: int | None = None
) -> IncomingSubmission:
    """What the repository is told of a verified delivery before its records stream in."""
    submission, delivery = verified.submission, verified.delivery
    return IncomingSubmission(
        message_id=submission.message_id,
        municipality=submission.municipality,
        year=submission.year,
        sequence=submission.sequence,
        sender=submission.sender,
        header_sha256=verified.submission_sha256,
        payload_sha256=submission.parts.payload.sha256,
        pseudonym_key_version=key_version,
        received_at=dt.datetime.now(dt.UTC),
        bydel_nr=bydel_nr,
        pseudonyms_sha256=delivery.parts.pseudonyms.sha256,
        delivery_sha256=verified.delivery_sha256,
        declared_records=declared_records,
    )


def take_entry(by_ref: ExactKeys, ref: str) -> tuple[bytes | None, str]:
    """The pseudonym (and ``"ok"``) or the refusal code (and no pseudonym) of reference ``ref``, taken out of
    ``by_ref``: each reference matches once. The unmatched-records refusal if it is not there."""
    entry = by_ref.pop(_ref_key(ref))
    if entry is None:
        raise _unmatched()
    return (entry[1:], IDENTITY_OK) if entry[0] == _PSEUDONYM[0] else (None, entry[1:].decode())


def unmatched() -> Problem:
    return _unmatched()


def _could_carry_identity(field: str) -> Problem:
    """A free field of the payload (shared.iplos.free_fields) holds what could be an identity number: the whole
    delivery is refused, for good, as a payload out of its bounds is. The gateway refuses such an export before it
    seals it, so only a forged or broken payload gets here; a logical control would keep the record, and with it
    the value. The answer names the field, never the value."""
    return finalised(
        Problem(
            ProblemType.INVALID_PAYLOAD,
            f"The payload's {field} could carry an identity number (nine or more digits in a row, or a diagnosis "
            "code outside its code system's form); nothing was stored",
            field=field,
        )
    )


def _final_if(payload_phase: bool, problem: Problem) -> Problem:
    return finalised(problem) if payload_phase else problem


def _joined(
    records: Iterator[PayloadRecord],
    by_ref: _ByRef,
    expected: int,
    runner: ControlRunner,
    findings_by_rule: Counter[str],
    clock: _Clock,
) -> Iterator[StoredRecord]:
    """Join payload records to pseudonyms by reference (every reference must match exactly once) and run the
    logical controls on each, counting the findings by rule (for the metrics, once the store has committed).

    The time spent decoding a record (pulling it out of the decrypting, decoding iterator) adds to ``clock.open``,
    joining and controlling it to ``clock.controls``: three clock reads per record, a fraction of a microsecond.
    (Not batches of records decoded ahead: a batch held alive outlives the young generation of the garbage
    collector, and its promotions cost more than the clock reads.)"""
    count = 0
    perf_counter = time.perf_counter
    records = iter(records)
    while True:
        started = perf_counter()
        record = next(records, None)
        decoded = perf_counter()
        clock.open += decoded - started
        if record is None:
            break
        if (fault := record_fault(record)) is not None:
            raise _could_carry_identity(fault)
        pseudonym, status = take_entry(by_ref, record.ref)
        count += 1
        findings = runner.check(record, pseudonym, status)
        if findings:
            findings_by_rule.update(finding.code for finding in findings)
        clock.controls += perf_counter() - decoded
        yield record, pseudonym, status, findings
    if by_ref or count != expected:
        raise _unmatched()


#: The pseudonym part as the join holds it, every entry of a submission at once, in flat buffers (no object per
#: entry): by record reference (:func:`_ref_key`), the pseudonym or the TPF's refusal code after a tag byte.
_ByRef = ExactKeys
_PSEUDONYM: Final = b"p"
_REFUSED: Final = b"r"
_HEX_REF: Final = re.compile(r"[0-9a-f]{32}")


def _ref_key(ref: str) -> bytes:
    """The key of a record reference in :data:`_ByRef`: a reference as the sealers write them (32 lowercase hex
    digits) as its 16 bytes, half the memory of the text; anything else as its text. Tagged by kind, so that two
    references match exactly when their texts are equal."""
    if len(ref) == 32 and _HEX_REF.fullmatch(ref):
        return b"h" + bytes.fromhex(ref)
    return b"t" + ref.encode("utf-8", "surrogatepass")


def _refusal(entry: PseudonymEntry) -> str:
    assert entry.refused is not None  # an entry without its pseudonym carries its refusal code
    return entry.refused


def _unmatched() -> Problem:
    # Both parts are authenticated (the payload by the municipality, the pseudonyms by the TPF) but they do not
    # describe the same records: a payload record without a pseudonym line, a repeated one, or a pseudonym line
    # without its record (docs/envelope-v1.md 10.2, step 11). The answer names no reference.
    # Final for the message id (spec section 9.1), like every refusal of what the payload holds.
    return finalised(
        Problem(ProblemType.UNMATCHED_RECORDS, "The payload's records and the pseudonym lines do not match one to one")
    )


def _binary(upload: Upload) -> BinaryIO:
    # A spooled upload is a binary file; the kit types it as the wider IO[bytes].
    return cast(BinaryIO, upload.file)
