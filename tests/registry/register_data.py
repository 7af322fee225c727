"""A synthetic population stored at the registry as its intake stores it (care exports and the population register's
extracts, each number as a test pseudonym), for the tests of persons over time and of the register controls."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from iplos_testkit.population import PopulationFiles
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.register import Identity, RegisterRepository
from services.registry_intake.submissions import IncomingSubmission, StoredRecord
from shared import fnr
from shared.iplos.payload import to_payload
from shared.iplos.reader import read_export
from shared.population import ReferencedNumber, RegisterRecord, read_extract

_KEY = b"test pseudonym key: the TPF's is secret"


def pseudonym(number: str) -> bytes:
    # The TPF's keyed HMAC, with a test key: the registry joins on these and nothing else.
    return hmac.new(_KEY, number.encode(), hashlib.sha256).digest()


def incoming(municipality: str, year: int, sequence: int = 1, declared: int | None = None) -> IncomingSubmission:
    return IncomingSubmission(
        message_id=str(uuid.uuid4()),
        municipality=municipality,
        year=year,
        sequence=sequence,
        sender="folkeregister",
        header_sha256="a" * 64,
        payload_sha256="b" * 64,
        pseudonym_key_version=1,
        received_at=dt.datetime(year + 1, 1, 25, tzinfo=dt.UTC),
        pseudonyms_sha256="c" * 64,
        delivery_sha256="d" * 64,
        declared_records=declared,
    )


def care_records(path: Path) -> Iterator[StoredRecord]:
    """The export's records as the registry gets them: reference, birth year and sex from the number (as the
    gateway's split gives them), the number as its pseudonym (as the TPF's)."""
    with read_export(path) as reader:
        for index, person in enumerate(reader):
            try:
                number = fnr.parse(person.fid)
            except fnr.InvalidIdentityNumber as refused:  # the TPF refuses it: no pseudonym, its rule kept
                yield to_payload(person, _ref(index), None, None), None, refused.rule, ()
                continue
            record = to_payload(person, _ref(index), number.birth_year, number.sex)
            yield record, pseudonym(person.fid), "ok", ()


def bruker_nrs(path: Path) -> dict[str, str]:
    """Each record's reference in :func:`care_records` -> its brukerNr: what the municipality's gateway maps."""
    with read_export(path) as reader:
        return {_ref(index): person.bruker_nr for index, person in enumerate(reader)}


def _ref(index: int) -> str:
    return f"{index:032x}"


def extract_records(path: Path) -> Iterator[tuple[RegisterRecord, list[Identity]]]:
    with path.open("rb") as handle:
        _header, people = read_extract(handle)
        for person in people:
            numbers = tuple(
                ReferencedNumber(uuid.uuid4().hex, e.type, e.valid_from, e.valid_to) for e in person.numbers
            )
            record = RegisterRecord(numbers, person.sex, person.birth_year, person.residence, person.death_date)
            yield record, [(pseudonym(e.number), "ok") for e in person.numbers]


def store(engine: Engine, population: PopulationFiles, *, register: bool = True, register_first: bool = False) -> None:
    """Every care export (and, with ``register``, every register extract) stored as the intake stores them: the care
    data first, or with ``register_first`` the register's."""
    care, extracts = SubmissionRepository(engine), RegisterRepository(engine)

    def store_care() -> None:
        for (year, municipality), path in sorted(population.exports.items()):
            care.store(incoming(municipality, year), care_records(path))

    def store_register() -> None:
        for (year, municipality), path in sorted(population.registers.items()):
            extracts.store_extract(incoming(municipality, year), extract_records(path))

    steps = [store_care] + ([store_register] if register else [])
    for step in reversed(steps) if register_first else steps:
        step()
