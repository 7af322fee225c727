"""Seal one population register extract (``iplos-folkeregister/1``, docs/population-register.md) as the gateway
seals a care export: every identity number into the identity part for the TPF under a fresh reference, every person
into the registry's part (``iplos-folkeregister-payload/1``) with the references in the numbers' place. One pass,
streaming; a broken line anywhere refuses the whole extract before anything is signed.

Issue 14's path through the chain: the register's gateway signs the header with the register's key
(``sign_sealed_extract``); the TPF takes it from the register only. The endpoint that takes an upload and the
outbox that delivers it come next; this is what they will call.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from services.kit.files import write_durably
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import limits
from services.municipality_gateway.sealing import (
    HEADER_FILE,
    IDENTITY_FILE,
    PAYLOAD_FILE,
    SIGNATURE_FILE,
    references,
)
from shared.envelope import PartRef, SubmissionHeader, SubmissionParts, sign_header, utc_timestamp
from shared.envelope.identity import IdentitySealer
from shared.envelope.payload_seal import PayloadSealer
from shared.keys import PartyKeys, PublicDirectory
from shared.population import (
    REGISTER_PAYLOAD_FORMAT,
    ExtractHeader,
    ExtractInvalid,
    encode_register_header,
    encode_register_trailer,
    read_extract,
    split_person,
)

__all__ = ["SealedExtract", "seal_register_extract", "sign_sealed_extract"]


@dataclass(frozen=True)
class SealedExtract:
    message_id: str
    header: ExtractHeader
    folder: Path
    identity: PartRef
    payload: PartRef
    record_count: int
    """Identity numbers sealed (the identity part's lines), which the submission header counts."""
    persons: int


def seal_register_extract(
    source: BinaryIO, keys: PartyKeys, directory: PublicDirectory, folder: Path, message_id: str
) -> SealedExtract:
    """Seal the extract ``source`` into ``folder`` (made by the caller, empty) for ``message_id``; a Problem
    ``invalid-extract`` naming the line and the rule (never a value) if the extract breaks a rule."""
    tpf_kid, tpf_key = directory.encryption_key("tpf")
    registry_kid, registry_key = directory.encryption_key("registry")
    numbers = persons = 0
    try:
        header, people = read_extract(source)
        with open(folder / IDENTITY_FILE, "wb") as identity_out, open(folder / PAYLOAD_FILE, "wb") as payload_out:
            identity = IdentitySealer(
                identity_out,
                sender=keys.party,
                recipient="tpf",
                recipient_kid=tpf_kid,
                recipient_key=tpf_key,
                message_id=message_id,
            )
            payload = PayloadSealer(
                payload_out,
                content=REGISTER_PAYLOAD_FORMAT,
                sender=keys.party,
                recipient="registry",
                recipient_kid=registry_kid,
                recipient_key=registry_key,
                message_id=message_id,
            )
            payload.write(encode_register_header(header))
            refs = references()
            for person in people:
                if numbers >= limits.MAX_RECORDS:
                    raise limits.too_many_records()
                lines, record = split_person(person, refs)
                for line in lines:
                    identity.add(line.ref, line.fid, line.type)
                payload.write(record)
                numbers += len(lines)
                persons += 1
            payload.write(encode_register_trailer(persons))
            identity_ref, payload_ref = identity.close(), payload.close()
            for handle in (identity_out, payload_out):
                handle.flush()
                os.fsync(handle.fileno())
    except ExtractInvalid as exc:
        # The reader's message names the line and the rule, never a value (the values are identity numbers).
        raise Problem(ProblemType.INVALID_EXTRACT, detail=str(exc)) from None
    return SealedExtract(message_id, header, folder, identity_ref, payload_ref, numbers, persons)


def sign_sealed_extract(sealed: SealedExtract, keys: PartyKeys, *, sequence: int, created_at: dt.datetime) -> bytes:
    """Sign the submission header of ``sealed`` with the register's key: its municipality and year are the
    extract's. Written next to the parts, on disk before the gateway answers; the header's bytes returned."""
    header = SubmissionHeader(
        message_id=sealed.message_id,
        sender=keys.party,
        signer_kid=keys.signing_kid,
        municipality=sealed.header.municipality,
        year=sealed.header.year,
        sequence=sequence,
        created_at=utc_timestamp(created_at),
        record_count=sealed.record_count,
        parts=SubmissionParts(identity=sealed.identity, payload=sealed.payload),
    )
    encoded, signature = sign_header(header, keys.signing)
    write_durably(sealed.folder / HEADER_FILE, encoded)
    write_durably(sealed.folder / SIGNATURE_FILE, signature)
    return encoded
