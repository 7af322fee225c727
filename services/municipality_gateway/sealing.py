"""Split an export into identities and data, seal each for its one reader, sign the header.

One pass over the XML: the reader validates against the XSD while it streams, and every person is written at
once to two sealed parts, the identity part for the TPF and the payload part for the registry. The caller sees
the export's header first (``admit``), before a folder is made or a key is used, and may refuse it there. A
schema error anywhere rejects the whole file, and the half-written parts are discarded before anything is
signed. So does a limit of the chain (``limits``): too many persons, one person's record too large for the
registry, a message too large for the TPF or the registry. Nothing grows with the export in memory: the
reference -> brukerNr mapping goes to a file next to the parts, which the use case reads into the database in
batches.

The header is signed (``sign_sealed``) once the outbox has numbered the submission: its sequence is part of
what is signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from services.kit.files import write_durably
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import limits
from services.municipality_gateway.workfolders import WorkFolder
from shared import fnr
from shared.envelope import PartRef, SubmissionHeader, SubmissionParts, sign_header, utc_timestamp
from shared.envelope.identity import IdentitySealer
from shared.envelope.payload_seal import PayloadSealer
from shared.iplos.model import ExportHeader
from shared.iplos.payload import PAYLOAD_FORMAT, encode_header, encode_trailer
from shared.iplos.reader import (
    DEFAULT_MAX_PERSON_BYTES,
    ExportInvalid,
    ExportLimitExceeded,
    ExportReader,
    check_export,
    plain_problem,
    read_export,
)
from shared.keys import PartyKeys, PublicDirectory

# A sealed submission's folder: the two parts, the signed header and its signature, and (until the submission is
# in the database) the reference mapping.
IDENTITY_FILE = "identity.part"
PAYLOAD_FILE = "payload.part"
HEADER_FILE = "header.json"
SIGNATURE_FILE = "header.sig"
REFS_FILE = "refs.tsv"  # one "reference TAB brukerNr" line per record; stays in the municipality
NO_MESSAGE_LIMIT = 1 << 62

# One export is sealed at a time in a process. lxml's parser runs without the GIL but takes it back for every
# element's start and end (its SAX callbacks), so two parses in two threads hand the GIL back and forth millions of
# times: measured on Oslo's export, two seals at once cost 1.7 to 1.9 times the CPU of the same two one after the
# other (futex traffic, 100,000s of context switches; py-spy shows it as time on the spool's read, where a sealing
# thread waits to get the GIL back) and took longer on the clock too. Uploads still arrive and spool concurrently;
# only their sealing queues here, after the header has been read and admitted, so a refused export does not wait.
# The gateway's "seal" stage times seal_export, so it includes this wait.
_SEALING = threading.Lock()

Admit = Callable[[ExportHeader], None]
"""Called with the export's header before anything is sealed; refuses the export by raising a Problem."""


@dataclass
class SealedExport:
    message_id: str
    header: ExportHeader
    folder: Path
    identity: PartRef
    payload: PartRef
    record_count: int
    work: WorkFolder | None = None
    """The lock that keeps the folder this process's while it is in ``work/`` (services.municipality_gateway
    .workfolders)."""

    def release(self) -> None:
        """Done with the work folder: remove it if it was not moved into the outbox, and let its lock go."""
        if self.work is not None:
            self.work.release()
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    def refs(self) -> Iterator[tuple[str, str]]:
        """(reference, brukerNr) of every record, in order, read from the folder's mapping file."""
        with open(self.folder / REFS_FILE, encoding="ascii") as lines:
            for line in lines:
                ref, bruker_nr = line.rstrip("\n").split("\t")
                yield ref, bruker_nr


def schema_problem(source: IO[bytes], exc: ExportInvalid, max_person_bytes: int) -> Problem:
    """The answer to an export the reader refused: every problem of the file, found by reading it once more in full
    (``check_export``: the reader stops at its first bad chunk), so that the answer is what ``iplos validate`` says
    offline of the same file: the total, the first ``SHOWN_PROBLEMS``, each with its line, element path, rule and a
    sentence in English and Norwegian. Only a refused file pays for the second reading."""
    source.seek(0)
    check = check_export(cast(BinaryIO, source), max_person_bytes=max_person_bytes)
    errors = [problem.as_json() for problem in check.problems]
    total = check.total
    if not errors:
        # The reader refused what the check did not find (they should agree; the reader is the gate): its reasons.
        errors = [plain_problem(issue.line, "refused", issue.message, issue.message).as_json() for issue in exc.issues]
        total = len(errors)
    return Problem(
        ProblemType.SCHEMA_INVALID,
        f"The export does not validate against the IPLOS export schema ({total} error{'s' if total != 1 else ''}"
        f"{'' if check.complete else ' before the point where reading stopped'}); nothing was accepted",
        error_count=total,
        errors_shown=len(errors),
        complete=check.complete,
        errors=errors,
    )


def seal_export(
    source: IO[bytes],
    keys_by_municipality: dict[str, PartyKeys],
    directory: PublicDirectory,
    work_dir: Path,
    *,
    admit: Admit | None = None,
    max_person_bytes: int = DEFAULT_MAX_PERSON_BYTES,
    max_message_bytes: int = NO_MESSAGE_LIMIT,
) -> SealedExport:
    """Seal ``source`` into a new folder under ``work_dir``, locked by this process until the caller calls
    :meth:`SealedExport.release`; raise a Problem (and leave nothing) on failure.

    ``admit`` sees the header as soon as it is read: an export it refuses leaves no folder, and no key is used
    for it."""
    work: WorkFolder | None = None
    try:
        # The spooled body is a binary file; the reader's type names the narrower protocol.
        with (
            _export_problems(source, max_person_bytes),
            read_export(cast(BinaryIO, source), max_person_bytes=max_person_bytes) as reader,
        ):
            if admit is not None:
                admit(reader.header)
            keys = served(keys_by_municipality, reader.header.kommune_nr)
            with _SEALING:
                message_id, work = work_folder(work_dir)
                sealed = _seal(reader, keys, directory, work.make(), message_id)
        sealed.work = work
        size = limits.message_bound(sealed.identity.size, sealed.payload.size, sealed.record_count)
        if size > max_message_bytes:
            raise limits.message_too_large(size, max_message_bytes)
        return sealed
    except BaseException:
        if work is not None:
            work.release()
        raise


def work_folder(work_dir: Path) -> tuple[str, WorkFolder]:
    """A new message id and its locked work folder (another id if a sweep holds the name this moment)."""
    for _ in range(3):
        message_id = str(uuid.uuid4())
        with contextlib.suppress(FileExistsError):
            return message_id, WorkFolder(work_dir, message_id)
    raise RuntimeError("no work folder could be locked")


@contextmanager
def _export_problems(source: IO[bytes], max_person_bytes: int) -> Iterator[None]:
    """The reader's refusals, wherever in the export they arise, as the problem documents the gateway answers."""
    try:
        yield
    except ExportLimitExceeded as exc:
        raise limits.person_too_large(exc) from None
    except ExportInvalid as exc:
        raise schema_problem(source, exc, max_person_bytes) from None


def served(keys_by_municipality: dict[str, PartyKeys], municipality: str) -> PartyKeys:
    keys = keys_by_municipality.get(municipality)
    if keys is None:
        raise Problem(
            ProblemType.MUNICIPALITY_NOT_SERVED,
            "This gateway holds no signing key for the export's municipality",
            municipality=municipality,
        )
    return keys


@dataclass
class OpenParts:
    """The two parts being sealed into a message's folder: the identity part for the TPF, the payload part for the
    registry (``close`` gives their references, once both are on disk)."""

    identity: IdentitySealer
    payload: PayloadSealer
    refs: PartRefs | None = None


@dataclass(frozen=True)
class PartRefs:
    identity: PartRef
    payload: PartRef


@contextmanager
def sealing_parts(
    folder: Path, keys: PartyKeys, directory: PublicDirectory, message_id: str, content: str
) -> Iterator[OpenParts]:
    """Open ``folder``'s identity and payload parts for sealing by ``keys``' party (the payload of content format
    ``content``); on leaving the block without an error, close both and fsync them: a power loss must not leave a
    truncated part behind once the gateway says "accepted". The references are then in the result's ``refs``."""
    tpf_kid, tpf_key = directory.encryption_key("tpf")
    registry_kid, registry_key = directory.encryption_key("registry")
    with open(folder / IDENTITY_FILE, "wb") as identity_out, open(folder / PAYLOAD_FILE, "wb") as payload_out:
        parts = OpenParts(
            IdentitySealer(
                identity_out,
                sender=keys.party,
                recipient="tpf",
                recipient_kid=tpf_kid,
                recipient_key=tpf_key,
                message_id=message_id,
            ),
            PayloadSealer(
                payload_out,
                content=content,
                sender=keys.party,
                recipient="registry",
                recipient_kid=registry_kid,
                recipient_key=registry_key,
                message_id=message_id,
            ),
        )
        yield parts
        parts.refs = PartRefs(parts.identity.close(), parts.payload.close())
        for handle in (identity_out, payload_out):
            handle.flush()
            os.fsync(handle.fileno())


def _seal(
    reader: ExportReader, keys: PartyKeys, directory: PublicDirectory, folder: Path, message_id: str
) -> SealedExport:
    header = reader.header
    count = 0
    with (
        sealing_parts(folder, keys, directory, message_id, PAYLOAD_FORMAT) as parts,
        open(folder / REFS_FILE, "w", encoding="ascii", newline="\n") as refs_out,
    ):
        identity, payload = parts.identity, parts.payload
        payload.write(encode_header(header))
        refs = references()
        # The fast path: each person's payload line written straight from its element (reader.lines()), the same
        # bytes as encode_record(to_payload(person, ...)) of the PersonRecord the reader would otherwise build.
        for person in reader.lines():
            if count >= limits.MAX_RECORDS:
                raise limits.too_many_records()
            # A fresh random reference per record: unlinkable across submissions, meaningless outside the
            # gateway, which alone keeps the reference -> brukerNr mapping.
            ref = next(refs)
            try:
                number = fnr.parse(person.fid)
                birth_year, sex = number.birth_year, number.sex
            except fnr.InvalidIdentityNumber:
                # The TPF decides and reports it by reference; the gateway just derives nothing from it.
                birth_year, sex = None, None
            line = person.line(ref, birth_year, sex)
            if len(line) - 1 > limits.MAX_RECORD_BYTES:
                raise limits.record_too_large(len(line) - 1, reader.line, person.bruker_nr, person.fid)
            identity.add(ref, person.fid, person.fid_type.value)
            payload.write(line)
            refs_out.write(f"{ref}\t{person.bruker_nr}\n")
            count += 1
        payload.write(encode_trailer(count))
    assert parts.refs is not None
    return SealedExport(message_id, header, folder, parts.refs.identity, parts.refs.payload, count)


_REF_BYTES = 16
_REFS_PER_DRAW = 1024


def references() -> Iterator[str]:
    """Fresh random references (32 hex digits, as ``secrets.token_hex(16)``), drawn from the OS CSPRNG 1,024 at a
    time: one getrandom call per block instead of one per record. Each block's bytes are used once, in order."""
    while True:
        block = secrets.token_bytes(_REF_BYTES * _REFS_PER_DRAW).hex()
        step = 2 * _REF_BYTES
        yield from (block[i : i + step] for i in range(0, len(block), step))


def sign_sealed(sealed: SealedExport, keys: PartyKeys, *, sequence: int, created_at: dt.datetime) -> bytes:
    """Sign the submission header of ``sealed`` with the municipality's key, numbered ``sequence``; write it and
    its signature next to the parts, on disk before the gateway says 202, and return the header's bytes."""
    where = (sealed.header.kommune_nr, sealed.header.rapporteringsaar)
    return sign_parts(sealed, keys, where, sequence=sequence, created_at=created_at)


class SealedParts(Protocol):
    """What signing needs of a sealed message (a care export's or a register extract's)."""

    @property
    def message_id(self) -> str: ...
    @property
    def folder(self) -> Path: ...
    @property
    def identity(self) -> PartRef: ...
    @property
    def payload(self) -> PartRef: ...
    @property
    def record_count(self) -> int: ...


def sign_parts(
    sealed: SealedParts, keys: PartyKeys, where: tuple[str, int], *, sequence: int, created_at: dt.datetime
) -> bytes:
    """Sign the submission header of ``sealed`` with ``keys`` (municipality and year ``where``), numbered
    ``sequence``; write it and its signature into the message's folder, on disk before the gateway answers; the
    header's bytes."""
    municipality, year = where
    header = SubmissionHeader(
        message_id=sealed.message_id,
        sender=keys.party,
        signer_kid=keys.signing_kid,
        municipality=municipality,
        year=year,
        sequence=sequence,
        created_at=utc_timestamp(created_at),
        record_count=sealed.record_count,
        parts=SubmissionParts(identity=sealed.identity, payload=sealed.payload),
    )
    folder = sealed.folder
    encoded, signature = sign_header(header, keys.signing)
    if len(encoded) > limits.MAX_HEADER_BYTES:
        raise limits.header_too_large(len(encoded))
    write_durably(folder / HEADER_FILE, encoded)
    write_durably(folder / SIGNATURE_FILE, signature)
    return encoded
