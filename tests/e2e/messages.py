"""Build sealed messages and deliveries the way the gateway and the TPF do, so tests can tamper with them."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from nacl.signing import SigningKey

from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE, seal_export
from shared import fnr
from shared.envelope import (
    DeliveryCounts,
    DeliveryHeader,
    DeliveryParts,
    SubmissionHeader,
    SubmissionParts,
    sign_header,
    utc_timestamp,
)
from shared.envelope import transport as wire
from shared.envelope._sealing import PartSealer
from shared.envelope.identity import open_identities
from shared.envelope.pseudonyms import PseudonymSealer
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys
from shared.keys.tpf import load_tpf_keys
from shared.pseudonym import Pseudonymiser


@dataclass
class Message:
    """A submission as the gateway sends it to the TPF: every part as bytes, free to tamper with."""

    header: bytes
    signature: bytes
    identity: bytes
    payload: bytes
    parsed: SubmissionHeader = field(repr=False)

    def files(self) -> dict[str, tuple[str, bytes, str]]:
        return {
            wire.SUBMISSION_HEADER: ("header.json", self.header, "application/json"),
            wire.SUBMISSION_SIGNATURE: ("header.sig", self.signature, "application/octet-stream"),
            wire.IDENTITY: ("identity.part", self.identity, "application/octet-stream"),
            wire.PAYLOAD: ("payload.part", self.payload, "application/octet-stream"),
        }


@dataclass
class Delivery:
    """A delivery as the TPF sends it to the registry."""

    submission_header: bytes
    submission_signature: bytes
    header: bytes
    signature: bytes
    pseudonyms: bytes
    payload: bytes

    def files(self) -> dict[str, tuple[str, bytes, str]]:
        return {
            wire.DELIVERY_SUBMISSION_HEADER: ("s.json", self.submission_header, "application/json"),
            wire.DELIVERY_SUBMISSION_SIGNATURE: ("s.sig", self.submission_signature, "application/octet-stream"),
            wire.DELIVERY_HEADER: ("d.json", self.header, "application/json"),
            wire.DELIVERY_SIGNATURE: ("d.sig", self.signature, "application/octet-stream"),
            wire.PSEUDONYMS: ("p.part", self.pseudonyms, "application/octet-stream"),
            wire.PAYLOAD: ("payload.part", self.payload, "application/octet-stream"),
        }


def keys_of(state: Path, municipality: str) -> PartyKeys:
    return load_municipality_keys(state / "keys" / "municipalities" / f"kommune-{municipality}", municipality)


def directory_of(state: Path) -> PublicDirectory:
    return PublicDirectory.load(state / "keys" / "directory.json")


def build_message(
    state: Path,
    export: Path,
    sequence: int,
    *,
    signer: PartyKeys | None = None,
    signing_key: SigningKey | None = None,
    header_changes: dict[str, object] | None = None,
    work: Path,
) -> Message:
    """Seal ``export`` like the gateway does, with a chosen sequence, signer and header fields."""
    directory = directory_of(state)
    with export.open("rb") as source:
        municipality = _kommune_nr(export)
        own = keys_of(state, municipality)
        sealed = seal_export(source, {municipality: own}, directory, work)
    signer = signer or own
    header = SubmissionHeader(
        message_id=sealed.message_id,
        sender=signer.party,
        signer_kid=signer.signing_kid,
        municipality=sealed.header.kommune_nr,
        year=sealed.header.rapporteringsaar,
        sequence=sequence,
        created_at=utc_timestamp(),
        record_count=sealed.record_count,
        parts=SubmissionParts(identity=sealed.identity, payload=sealed.payload),
    )
    if header_changes:
        header = replace_model(header, header_changes)
    encoded, signature = sign_header(header, signing_key or signer.signing)
    return Message(
        encoded,
        signature,
        (sealed.folder / IDENTITY_FILE).read_bytes(),
        (sealed.folder / PAYLOAD_FILE).read_bytes(),
        header,
    )


def replace_model(model: SubmissionHeader, changes: dict[str, object]) -> SubmissionHeader:
    return SubmissionHeader.model_validate({**model.model_dump(mode="json"), **changes})


def reseal_identity_for(
    state: Path,
    message: Message,
    party: str,
    *,
    ref_maker: Callable[[int], str] | None = None,
    type_maker: Callable[[int, str], str] | None = None,
) -> Message:
    """Open the identity part with the TPF's key and seal its lines again, for ``party``'s key and with
    references from ``ref_maker`` if given (bypassing the sealer's own checks), leaving the header naming the
    TPF as recipient; re-sign the header with the part's new digest."""
    tpf = load_tpf_keys(state / "keys" / "tpf")
    kid, key = directory_of(state).encryption_key(party)
    entries = list(
        open_identities(
            io.BytesIO(message.identity),
            tpf.party,
            message.parsed.parts.identity,
            sender=message.parsed.sender,
            message_id=message.parsed.message_id,
        )
    )
    out = io.BytesIO()
    sealer = PartSealer(
        out,
        kind="identity",
        content="iplos-identities/1",
        sender=message.parsed.sender,
        recipient="tpf",
        recipient_kid=kid,
        recipient_key=key,
        message_id=message.parsed.message_id,
    )
    for index, entry in enumerate(entries):
        ref = ref_maker(index) if ref_maker else entry.ref
        fid_type = type_maker(index, entry.fid_type) if type_maker else entry.fid_type
        sealer.write_line({"fid": entry.fid, "ref": ref, "type": fid_type})
    part = sealer.close()
    # The header still names the TPF's key id: only the bytes (and so the digest) change.
    parts = message.parsed.parts.model_dump(mode="json")
    parts["identity"].update(sha256=part.sha256, size=part.size)
    header = replace_model(message.parsed, {"parts": parts})
    municipality = keys_of(state, header.municipality)
    encoded, signature = sign_header(header, municipality.signing)
    return Message(encoded, signature, out.getvalue(), message.payload, header)


def with_unmatched_last_ref(state: Path, message: Message) -> Message:
    """The message with its identity part sealed again, the last record under a fresh reference that no payload
    record carries: the TPF takes it, and the registry refuses it only after joining every other record."""
    tpf = load_tpf_keys(state / "keys" / "tpf")
    refs = [
        entry.ref
        for entry in open_identities(
            io.BytesIO(message.identity),
            tpf.party,
            message.parsed.parts.identity,
            sender=message.parsed.sender,
            message_id=message.parsed.message_id,
        )
    ]
    return reseal_identity_for(
        state, message, "tpf", ref_maker=lambda i: refs[i] if i < len(refs) - 1 else secrets.token_hex(16)
    )


def build_delivery(
    state: Path,
    message: Message,
    *,
    tpf_signing: SigningKey | None = None,
    signer: PartyKeys | None = None,
    created_at: str | None = None,
    refusals: dict[int, str] | None = None,
) -> Delivery:
    """Pseudonymise like the TPF does (with the TPF's real keys) and sign the delivery (as the TPF, or with
    ``tpf_signing`` under the TPF's key id, or as ``signer`` under its own identity). ``refusals`` writes the
    record at each index as refused with that code instead, exactly as given (the sealer's checks bypassed)."""
    tpf = load_tpf_keys(state / "keys" / "tpf")
    directory = directory_of(state)
    registry_kid, registry_key = directory.encryption_key("registry")
    pseudonymiser = Pseudonymiser(tpf.current_pseudonym_key)
    out = io.BytesIO()
    sealer = PseudonymSealer(
        out,
        key_version=pseudonymiser.key_version,
        sender="tpf",
        recipient="registry",
        recipient_kid=registry_kid,
        recipient_key=registry_key,
        message_id=message.parsed.message_id,
    )
    count = refused = 0
    for index, entry in enumerate(
        open_identities(
            io.BytesIO(message.identity),
            tpf.party,
            message.parsed.parts.identity,
            sender=message.parsed.sender,
            message_id=message.parsed.message_id,
        )
    ):
        count += 1
        if refusals and index in refusals:
            sealer.write_line({"ref": entry.ref, "refused": refusals[index]})
            refused += 1
            continue
        sealer.add(entry.ref, pseudonymiser.pseudonym(fnr.parse(entry.fid)))
    ref = sealer.close()
    header = DeliveryHeader(
        message_id=message.parsed.message_id,
        sender=signer.party if signer else "tpf",
        signer_kid=signer.signing_kid if signer else tpf.party.signing_kid,
        submission_sha256=hashlib.sha256(message.header).hexdigest(),
        created_at=created_at or utc_timestamp(),
        pseudonym_key_version=pseudonymiser.key_version,
        counts=DeliveryCounts(records=count, pseudonymised=count - refused, refused=refused),
        parts=DeliveryParts(pseudonyms=ref),
    )
    encoded, signature = sign_header(header, signer.signing if signer else tpf_signing or tpf.party.signing)
    return Delivery(message.header, message.signature, encoded, signature, out.getvalue(), message.payload)


def flip(data: bytes, index: int) -> bytes:
    """The same bytes with one bit flipped at ``index`` (negative counts from the end)."""
    position = index % len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _kommune_nr(export: Path) -> str:
    text = export.read_text(encoding="utf-8")
    start = text.index("<kommuneNr>") + len("<kommuneNr>")
    return text[start : start + 4]


__all__ = [
    "Delivery",
    "Message",
    "build_delivery",
    "build_message",
    "flip",
    "replace",
    "reseal_identity_for",
    "with_unmatched_last_ref",
]
