"""Seal one population register extract (``iplos-folkeregister/1``, docs/population-register.md) as the gateway
seals a care export: every identity number into the identity part for the TPF under a fresh reference, every person
into the registry's part (``iplos-folkeregister-payload/1``) with the references in the numbers' place. One pass,
streaming; a broken line anywhere refuses the whole extract before anything is signed.

Issue 14's path through the chain: the register's gateway (``service.submit_extract``) seals an upload with
:func:`seal_register_upload`, then numbers, signs (``sealing.sign_parts``, with the register's key) and stages it as
it does a care export; the TPF takes it from the register only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import limits
from services.municipality_gateway.sealing import (
    NO_MESSAGE_LIMIT,
    references,
    sealing_parts,
    served,
    work_folder,
)
from services.municipality_gateway.workfolders import WorkFolder
from shared.envelope import PartRef
from shared.keys import PartyKeys, PublicDirectory
from shared.population import (
    REGISTER_PAYLOAD_FORMAT,
    ExtractHeader,
    ExtractInvalid,
    RegisterPerson,
    bounded_lines,
    encode_register_header,
    encode_register_trailer,
    read_extract,
    split_person,
)

__all__ = ["AdmitExtract", "SealedExtract", "seal_register_extract", "seal_register_upload"]


@dataclass
class SealedExtract:
    message_id: str
    header: ExtractHeader
    folder: Path
    identity: PartRef
    payload: PartRef
    record_count: int
    """Identity numbers sealed (the identity part's lines), which the submission header counts."""
    persons: int
    work: WorkFolder | None = None
    """The lock that keeps the folder this process's while it is in ``work/`` (as a care export's)."""

    def release(self) -> None:
        """Done with the work folder: remove it if it was not moved into the outbox, and let its lock go."""
        if self.work is not None:
            self.work.release()
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


AdmitExtract = Callable[[ExtractHeader], None]
"""Called with the extract's header before anything is sealed; refuses the extract by raising a Problem."""


def seal_register_upload(
    source: BinaryIO,
    keys_by_municipality: dict[str, PartyKeys],
    directory: PublicDirectory,
    work_dir: Path,
    *,
    admit: AdmitExtract | None = None,
    max_message_bytes: int = NO_MESSAGE_LIMIT,
) -> SealedExtract:
    """Seal the uploaded extract ``source`` into a new work folder under ``work_dir``, locked by this process until
    the caller calls :meth:`SealedExtract.release` (as ``sealing.seal_export`` does a care export); a Problem, and
    nothing left behind, on failure. ``admit`` sees the header first."""
    work: WorkFolder | None = None
    try:
        with _extract_problems():
            header, people = read_extract(bounded_lines(source))
            if admit is not None:
                admit(header)
            keys = served(keys_by_municipality, header.municipality)
            message_id, work = work_folder(work_dir)
            sealed = _seal(header, people, keys, directory, work.make(), message_id)
        sealed.work = work
        size = limits.message_bound(sealed.identity.size, sealed.payload.size, sealed.record_count)
        if size > max_message_bytes:
            raise limits.message_too_large(size, max_message_bytes)
        return sealed
    except BaseException:
        if work is not None:
            work.release()
        raise


def seal_register_extract(
    source: BinaryIO, keys: PartyKeys, directory: PublicDirectory, folder: Path, message_id: str
) -> SealedExtract:
    """Seal the extract ``source`` into ``folder`` (made by the caller, empty) for ``message_id``; a Problem
    ``invalid-extract`` naming the line and the rule (never a value) if the extract breaks a rule."""
    with _extract_problems():
        header, people = read_extract(bounded_lines(source))
        return _seal(header, people, keys, directory, folder, message_id)


@contextmanager
def _extract_problems() -> Iterator[None]:
    try:
        yield
    except ExtractInvalid as exc:
        # The reader's message names the line and the rule, never a value (the values are identity numbers).
        raise Problem(ProblemType.INVALID_EXTRACT, detail=str(exc)) from None


def _seal(
    header: ExtractHeader,
    people: Iterator[RegisterPerson],
    keys: PartyKeys,
    directory: PublicDirectory,
    folder: Path,
    message_id: str,
) -> SealedExtract:
    numbers = persons = 0
    with sealing_parts(folder, keys, directory, message_id, REGISTER_PAYLOAD_FORMAT) as parts:
        identity, payload = parts.identity, parts.payload
        payload.write(encode_register_header(header))
        refs = references()
        for person in people:
            if numbers + len(person.numbers) > limits.MAX_RECORDS:
                raise limits.too_many_records()
            lines, record = split_person(person, refs)
            for line in lines:
                identity.add(line.ref, line.fid, line.type)
            payload.write(record)
            numbers += len(lines)
            persons += 1
        payload.write(encode_register_trailer(persons))
    if persons == 0:
        # A newer extract replaces the municipality's year: an empty one would erase it.
        raise Problem(ProblemType.EMPTY_EXPORT, "The extract lists no persons; it would erase the year's register data")
    assert parts.refs is not None
    return SealedExtract(message_id, header, folder, parts.refs.identity, parts.refs.payload, numbers, persons)
