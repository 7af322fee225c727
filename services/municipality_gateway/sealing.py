"""Split an export into identities and data, seal each for its one reader, sign the header.

One pass over the XML: the reader validates against the XSD while it streams, and every person is written at
once to two sealed parts, the identity part for the TPF and the payload part for the registry. A schema error
anywhere rejects the whole file, and the half-written parts are discarded before anything is signed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from services.kit.problems import Problem
from shared import fnr
from shared.envelope import PartRef
from shared.envelope.identity import IdentitySealer
from shared.envelope.payload_seal import PayloadSealer
from shared.iplos.model import ExportHeader
from shared.iplos.payload import PAYLOAD_FORMAT, encode_header, encode_record, encode_trailer, to_payload
from shared.iplos.reader import ExportInvalid, read_export
from shared.keys import PartyKeys, PublicDirectory

IDENTITY_FILE = "identity.part"
PAYLOAD_FILE = "payload.part"


@dataclass
class SealedExport:
    message_id: str
    header: ExportHeader
    folder: Path
    identity: PartRef
    payload: PartRef
    refs: list[tuple[str, str]] = field(repr=False)  # (reference, brukerNr): stays in the municipality

    @property
    def record_count(self) -> int:
        return len(self.refs)


def schema_problem(exc: ExportInvalid) -> Problem:
    return Problem(
        "schema-invalid",
        422,
        "The export does not validate against the IPLOS export schema; nothing was accepted",
        errors=[{"line": i.line, "element": i.element, "message": i.message} for i in exc.issues],
    )


def seal_export(
    source: IO[bytes],
    keys_by_municipality: dict[str, PartyKeys],
    directory: PublicDirectory,
    work_dir: Path,
) -> SealedExport:
    """Seal ``source`` into a new folder under ``work_dir``; raise a Problem (and leave nothing) on failure."""
    message_id = str(uuid.uuid4())
    folder = work_dir / f"incoming-{message_id}"
    folder.mkdir(parents=True)
    try:
        return _seal(source, keys_by_municipality, directory, folder, message_id)
    except ExportInvalid as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise schema_problem(exc) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _seal(
    source: IO[bytes],
    keys_by_municipality: dict[str, PartyKeys],
    directory: PublicDirectory,
    folder: Path,
    message_id: str,
) -> SealedExport:
    reader = read_export(source)
    header = reader.header
    keys = keys_by_municipality.get(header.kommune_nr)
    if keys is None:
        raise Problem(
            "municipality-not-served",
            422,
            "This gateway holds no signing key for the export's municipality",
            municipality=header.kommune_nr,
        )
    tpf_kid, tpf_key = directory.encryption_key("tpf")
    registry_kid, registry_key = directory.encryption_key("registry")
    refs: list[tuple[str, str]] = []
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
            content=PAYLOAD_FORMAT,
            sender=keys.party,
            recipient="registry",
            recipient_kid=registry_kid,
            recipient_key=registry_key,
            message_id=message_id,
        )
        payload.write(encode_header(header))
        for person in reader:
            # A fresh random reference per record: unlinkable across submissions, meaningless outside the
            # gateway, which alone keeps the reference -> brukerNr mapping.
            ref = secrets.token_hex(16)
            try:
                number = fnr.parse(person.fid)
                birth_year, sex = number.birth_year, number.sex
            except fnr.InvalidIdentityNumber:
                # The TPF decides and reports it by reference; the gateway just derives nothing from it.
                birth_year, sex = None, None
            identity.add(ref, person.fid, person.fid_type.value)
            payload.write(encode_record(to_payload(person, ref, birth_year, sex)))
            refs.append((ref, person.bruker_nr))
        payload.write(encode_trailer(len(refs)))
        identity_ref = identity.close()
        payload_ref = payload.close()
        # On disk before the gateway says "accepted": a power loss must not leave a truncated part behind.
        for handle in (identity_out, payload_out):
            handle.flush()
            os.fsync(handle.fileno())
    return SealedExport(message_id, header, folder, identity_ref, payload_ref, refs)
