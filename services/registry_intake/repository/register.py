"""Storing the population register's extracts (issue 14, docs/population-register.md): one transaction per
decision, as for care data (``decisions.py``), in tables of their own (models, migration 0008).

:meth:`RegisterRepository.store_extract` makes one of three decisions for an incoming extract of a municipality
and year:

* **replay**: the message id is already known (the primary key of ``register_extracts`` decides):
  :class:`ReplayedExtract`, nothing changes;
* **stale**: the active extract of that municipality and year has the same or a higher sequence: the incoming one is
  recorded as ``refused`` (``stale-sequence``, no persons) and :class:`StaleExtract` is raised;
* **accept**: the incoming extract becomes the active one, its persons, their numbers (as pseudonyms) and residence
  periods are inserted; the previous active one is marked ``superseded`` and its rows deleted (its row keeps its
  counts), all in one transaction, which rolls back whole if anything fails, the persons' iterator included.

Extracts of one municipality and year serialise on their ``register_years`` row. Each decision appends its audit
entries (``stored``, ``superseded``, ``refused``, with the register as ``sender``) in its own transaction.

An accepted extract judges the care submissions of its municipality and year again in the same transaction (the
register controls, ``register_checks.py``), after refreshing PostgreSQL's statistics if it is large; after it has
committed, the numbers unknown to the whole register (K035) are judged again for the year, once the year is complete,
and the records it lists are judged again for a person who never lived in the municipality that reported them (K040).
Rows go in the care data's fast way (``bulk.insert_rows``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.kit.audit_log import AuditLog
from services.kit.database import READ_ONLY
from services.registry_intake.models import (
    IDENTITY_OK,
    REFUSAL_STALE_SEQUENCE,
    register_extracts,
    register_numbers,
    register_persons,
    register_residences,
    register_years,
)
from services.registry_intake.repository import statements as sql
from services.registry_intake.repository.bulk import days_for, insert_rows
from services.registry_intake.repository.decisions import audit_facts
from services.registry_intake.repository.register_checks import (
    check_municipality_year,
    recheck_never_resident,
    recheck_unknown,
)
from services.registry_intake.submissions import IncomingSubmission, Outcome
from shared.audit import FactValue
from shared.population import RegisterRecord

__all__ = ["ExtractConflict", "RegisterRepository", "ReplayedExtract", "StaleExtract", "StoredExtract"]

log = structlog.get_logger("registry")

#: A number's outcome at the TPF, in the order of the person's numbers: its pseudonym and ``"ok"``, or None and the
#: TPF's refusal code.
Identity = tuple[bytes | None, str]

_ACTIVE: Final = "active"
_SUPERSEDED: Final = "superseded"
_REFUSED: Final = "refused"
_BATCH: Final = 2000


@dataclass(frozen=True)
class StoredExtract:
    message_id: str
    municipality: str
    year: int
    sequence: int
    status: str
    refusal_reason: str | None
    received_at: dt.datetime
    person_count: int
    number_count: int
    pseudonymised_count: int
    identity_refused_count: int
    supersedes: str | None
    superseded_by: str | None
    header_sha256: str


class ExtractConflict(Exception):
    """An extract the registry does not store."""


class ReplayedExtract(ExtractConflict):
    """The message id is already known; ``original`` is what was decided for it the first time."""

    def __init__(self, original: StoredExtract) -> None:
        super().__init__("this message id was decided before")
        self.original = original


class StaleExtract(ExtractConflict):
    """The active extract of the municipality and year has the same or a higher sequence; ``refused`` is the row
    recorded for the incoming one."""

    def __init__(self, active_sequence: int, refused: StoredExtract) -> None:
        super().__init__("an extract with the same or a newer sequence is active")
        self.active_sequence = active_sequence
        self.refused = refused


class RegisterRepository:
    def __init__(self, engine: Engine, *, audit: AuditLog | None = None) -> None:
        self._engine = engine
        self._audit = audit
        self._reader = engine.execution_options(**READ_ONLY)

    def store_extract(
        self, incoming: IncomingSubmission, persons: Iterable[tuple[RegisterRecord, Sequence[Identity]]]
    ) -> StoredExtract:
        """Store ``incoming``'s persons (each with the TPF's outcome for each of its numbers, in order) as the active
        extract of its municipality and year. Raises :class:`ReplayedExtract` or :class:`StaleExtract`."""
        stale_against: int | None = None
        try:
            with self._engine.begin() as conn:
                active_id, active_sequence = sql.lock_municipality_year(
                    conn, incoming.municipality, incoming.year, register_years
                )
                if active_sequence is not None and active_sequence >= incoming.sequence:
                    _insert_row(conn, incoming, _REFUSED, REFUSAL_STALE_SEQUENCE, supersedes=None)
                    self._record(conn, Outcome.REFUSED, incoming.message_id, _facts(incoming, problem=True))
                    stale_against = active_sequence
                else:
                    stored_persons = self._replace(conn, incoming, active_id, persons)
                    _refresh_statistics(conn, stored_persons)
                    # The care submissions of the municipality and year, judged again against this extract.
                    check_municipality_year(conn, incoming.municipality, incoming.year)
        except IntegrityError as error:
            original = self._read_back(incoming.message_id)
            if original is None:
                raise
            raise ReplayedExtract(original) from error
        stored = self._read_back(incoming.message_id)
        assert stored is not None
        if stale_against is not None:
            raise StaleExtract(stale_against, stored)
        # Whether a number is known anywhere in the year changes with every municipality's extract. Its own
        # transaction: the extract is stored whatever happens to it, and the next extract's recheck judges again.
        try:
            recheck_unknown(self._engine, incoming.year)
        except SQLAlchemyError as exc:
            log.warning("unknown-number recheck failed", year=incoming.year, error=type(exc).__name__)
        # Whether a number's person ever lived in the municipality that reported it (K040) changes with any
        # extract that lists it, of any municipality and year: judged again for the records this one lists.
        try:
            recheck_never_resident(self._engine, stored.message_id)
        except SQLAlchemyError as exc:
            log.warning("never-resident recheck failed", year=incoming.year, error=type(exc).__name__)
        return stored

    def _replace(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        active_id: str | None,
        persons: Iterable[tuple[RegisterRecord, Sequence[Identity]]],
    ) -> int:
        """Store the incoming extract as the active one; its number of persons."""
        sid = incoming.message_id
        _insert_row(conn, incoming, _ACTIVE if active_id is None else _SUPERSEDED, None, supersedes=active_id)
        counts = _write_persons(conn, sid, incoming.pseudonym_key_version, persons)
        if active_id is not None:
            # The old extract's rows go; its row stays, as an audit fact with its counts.
            for table in (register_numbers, register_residences, register_persons):
                conn.execute(delete(table).where(table.c.extract_id == active_id))
            conn.execute(
                update(register_extracts)
                .where(register_extracts.c.message_id == active_id)
                .values(status=_SUPERSEDED, superseded_by=sid)
            )
        # Active only now: the one-active index holds the old one's place until it is superseded.
        conn.execute(
            update(register_extracts).where(register_extracts.c.message_id == sid).values(status=_ACTIVE, **counts)
        )
        conn.execute(
            update(register_years)
            .where(register_years.c.municipality == incoming.municipality, register_years.c.year == incoming.year)
            .values(active_message_id=sid, active_sequence=incoming.sequence)
        )
        if active_id is not None:
            self._record(conn, Outcome.SUPERSEDED, active_id, {"superseded_by": sid})
        facts = _facts(incoming) | {
            "records": counts["person_count"],
            "pseudonymised": counts["pseudonymised_count"],
            "refused": counts["identity_refused_count"],
        }
        if active_id is not None:
            facts["supersedes"] = active_id
        self._record(conn, Outcome.STORED, sid, facts)
        return counts["person_count"]

    def has_active_extract(self, municipality: str, year: int) -> bool:
        """Whether the register's extract of ``municipality`` and ``year`` is stored (the register controls of its
        care submissions have then run against it)."""
        query = select(register_years.c.active_message_id).where(
            register_years.c.municipality == municipality, register_years.c.year == year
        )
        with self._reader.connect() as conn:
            return conn.execute(query).scalar_one_or_none() is not None

    def stored(self, message_id: str) -> StoredExtract | None:
        """What was decided for the extract of ``message_id``, or None if it is not known."""
        return self._read_back(message_id)

    def _read_back(self, message_id: str) -> StoredExtract | None:
        with self._reader.connect() as conn:
            row = conn.execute(
                select(*(register_extracts.c[name] for name in StoredExtract.__dataclass_fields__)).where(
                    register_extracts.c.message_id == message_id
                )
            ).first()
        return None if row is None else StoredExtract(**row._asdict())

    def _record(self, conn: Connection, event: Outcome, message_id: str, facts: dict[str, FactValue]) -> None:
        if self._audit is not None:
            self._audit.append(conn, event, message_id, facts)


def _facts(incoming: IncomingSubmission, *, problem: bool = False) -> dict[str, FactValue]:
    """The care data's audit facts, with the register as the sender."""
    facts = audit_facts(incoming) | {"sender": incoming.sender}
    if problem:
        facts["problem"] = REFUSAL_STALE_SEQUENCE
    return facts


def _insert_row(
    conn: Connection, incoming: IncomingSubmission, status: str, refusal_reason: str | None, *, supersedes: str | None
) -> None:
    # A new extract is inserted as "superseded" while an active one exists (the one-active index), and made active
    # once the old one has given its place up: no reader ever sees two active, or none while a replacement runs.
    conn.execute(
        insert(register_extracts).values(
            message_id=incoming.message_id,
            municipality=incoming.municipality,
            year=incoming.year,
            sequence=incoming.sequence,
            status=status,
            refusal_reason=refusal_reason,
            received_at=incoming.received_at,
            person_count=0,
            number_count=0,
            pseudonymised_count=0,
            identity_refused_count=0,
            supersedes=supersedes,
            superseded_by=None,
            sender=incoming.sender,
            pseudonym_key_version=incoming.pseudonym_key_version,
            header_sha256=incoming.header_sha256,
            payload_sha256=incoming.payload_sha256,
            pseudonyms_sha256=incoming.pseudonyms_sha256 or "",
            delivery_sha256=incoming.delivery_sha256 or "",
        )
    )


#: An extract of at least this many persons changes the join tables enough that PostgreSQL's planner, left with
#: the statistics from before it, joins the whole extract instead of looking each care record up (measured: an
#: Oslo-sized extract of 700,000 persons, the register controls of 35,000 records 1.8 s before ANALYZE, 0.6 s after).
_ANALYZE_FROM: Final = 20_000


def _refresh_statistics(conn: Connection, persons: int) -> None:
    """On PostgreSQL, after an extract of :data:`_ANALYZE_FROM` persons or more: the join tables' statistics, in the
    transaction (about 0.3 s a table whatever the extract's size, so not for the many small municipalities, whose
    rows autovacuum's analyze catches up with)."""
    if conn.dialect.name == "postgresql" and persons >= _ANALYZE_FROM:
        conn.execute(text("ANALYZE register_numbers, register_persons"))


_PERSON_COLUMNS: Final = ("extract_id", "n", "sex", "birth_year", "death_date")
_NUMBER_COLUMNS: Final = (
    "extract_id",
    "n",
    "ordinal",
    "pseudonym",
    "pseudonym_key_version",
    "identity_status",
    "number_type",
    "valid_from",
    "valid_to",
)
_RESIDENCE_COLUMNS: Final = ("extract_id", "n", "ordinal", "municipality", "start_date", "end_date")


def _write_persons(
    conn: Connection, sid: str, key_version: int, persons: Iterable[tuple[RegisterRecord, Sequence[Identity]]]
) -> dict[str, int]:
    """Insert the rows of every person, a batch at a time, the care data's fast way (``bulk.insert_rows``: COPY on
    PostgreSQL); the extract's counts."""
    people: list[tuple[Any, ...]] = []
    numbers: list[tuple[Any, ...]] = []
    residences: list[tuple[Any, ...]] = []
    day = days_for(conn)
    counts = {"person_count": 0, "number_count": 0, "pseudonymised_count": 0, "identity_refused_count": 0}

    def flush() -> None:
        for table, columns, rows in (
            (register_persons, _PERSON_COLUMNS, people),
            (register_numbers, _NUMBER_COLUMNS, numbers),
            (register_residences, _RESIDENCE_COLUMNS, residences),
        ):
            if rows:
                insert_rows(conn, table, columns, rows)
                rows.clear()

    for n, (record, identities) in enumerate(persons, start=1):
        if len(identities) != len(record.numbers):
            raise ValueError("a person's numbers and the TPF's outcomes for them do not match")
        sex = None if record.sex is None else str(record.sex)
        people.append((sid, n, sex, record.birth_year, day[record.death_date]))
        for ordinal, (number, (pseudonym, status)) in enumerate(zip(record.numbers, identities, strict=True)):
            if (pseudonym is None) == (status == IDENTITY_OK):
                raise ValueError("a pseudonym goes with identity status 'ok', a refusal code with none")
            version = None if pseudonym is None else key_version
            valid = (day[number.valid_from], day[number.valid_to])
            numbers.append((sid, n, ordinal, pseudonym, version, status, str(number.type), *valid))
            counts["pseudonymised_count" if pseudonym is not None else "identity_refused_count"] += 1
        residences += [(sid, n, i, p.municipality, day[p.start], day[p.end]) for i, p in enumerate(record.residence)]
        counts["person_count"] += 1
        counts["number_count"] += len(identities)
        if len(people) >= _BATCH:
            flush()
    flush()
    return counts
