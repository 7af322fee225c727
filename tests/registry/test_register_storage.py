"""The registry's storage of population register extracts (services.registry_intake.repository.register, migration
0008), on SQLite and PostgreSQL: an extract's persons, numbers (as pseudonyms) and residences are stored under it;
a newer extract of the municipality and year replaces the older one in one transaction; an older one is refused as
stale; the same message again changes nothing; a failure half-way leaves nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Iterator

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Connection, Engine, Table, func, select, text

from iplos_testkit.population import Population
from services.kit.audit_log import AuditLog
from services.registry_intake import models
from services.registry_intake.models import (
    register_extracts,
    register_numbers,
    register_persons,
    register_residences,
    register_years,
)
from services.registry_intake.repository import register as register_module
from services.registry_intake.repository.register import (
    Identity,
    RegisterRepository,
    ReplayedExtract,
    StaleExtract,
)
from services.registry_intake.submissions import IncomingSubmission
from shared.population import ReferencedNumber, RegisterPerson, RegisterRecord


def pseudonym(number: str) -> bytes:
    # Test-only stand-in for the TPF's keyed HMAC: the storage needs 32 bytes per number, linked as the TPF links.
    return hashlib.sha256(b"test-pseudonym" + number.encode()).digest()


def oslo(seed: int = 3) -> list[RegisterPerson]:
    population = Population(("0301", "1103"), (2024, 2025), residents=80, seed=seed)
    views = [p.register_view(2025) for p in population.persons]
    return [v for v in views if v is not None and v.resident_in("0301", 2025)]


def as_stored(persons: list[RegisterPerson]) -> Iterator[tuple[RegisterRecord, list[Identity]]]:
    """What the intake will hand the repository: the registry's view of each person (numbers by reference) and the
    TPF's outcome for each number."""
    for person in persons:
        numbers = tuple(ReferencedNumber(uuid.uuid4().hex, e.type, e.valid_from, e.valid_to) for e in person.numbers)
        record = RegisterRecord(numbers, person.sex, person.birth_year, person.residence, person.death_date)
        yield record, [(pseudonym(e.number), "ok") for e in person.numbers]


def incoming(sequence: int, municipality: str = "0301") -> IncomingSubmission:
    return IncomingSubmission(
        message_id=str(uuid.uuid4()),
        municipality=municipality,
        year=2025,
        sequence=sequence,
        sender="folkeregister",
        header_sha256="a" * 64,
        payload_sha256="b" * 64,
        pseudonym_key_version=1,
        received_at=dt.datetime(2026, 1, 21, 10, 0, tzinfo=dt.UTC),
        pseudonyms_sha256="c" * 64,
        delivery_sha256="d" * 64,
    )


def count(engine: Engine, table: Table, extract_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(table.c.extract_id == extract_id)).scalar_one())


def test_an_extract_is_stored_by_pseudonym_with_its_numbers_linked(engine: Engine) -> None:
    persons = oslo()
    audit = AuditLog(engine, models.audit, service="registry", log_name="registry", signing_key=SigningKey.generate())
    stored = RegisterRepository(engine, audit=audit).store_extract(incoming(1), as_stored(persons))
    assert (stored.status, stored.person_count) == ("active", len(persons))
    assert stored.number_count == stored.pseudonymised_count == sum(len(p.numbers) for p in persons)
    assert count(engine, register_persons, stored.message_id) == len(persons)
    assert count(engine, register_residences, stored.message_id) == sum(len(p.residence) for p in persons)
    # A D-number replaced by a fødselsnummer: two pseudonyms of one person, found by either.
    changed = next(p for p in persons if len(p.numbers) > 1)
    with engine.connect() as conn:
        by_first = conn.execute(
            select(register_numbers.c.extract_id, register_numbers.c.n).where(
                register_numbers.c.pseudonym == pseudonym(changed.numbers[0].number)
            )
        ).one()
        linked = conn.execute(
            select(register_numbers.c.pseudonym, register_numbers.c.number_type, register_numbers.c.valid_to)
            .where(register_numbers.c.extract_id == by_first.extract_id, register_numbers.c.n == by_first.n)
            .order_by(register_numbers.c.ordinal)
        ).all()
        person = conn.execute(
            select(register_persons).where(
                register_persons.c.extract_id == by_first.extract_id, register_persons.c.n == by_first.n
            )
        ).one()
        events = [row.event for row in conn.execute(select(models.audit.log.c.event))]
    assert [row.pseudonym for row in linked] == [pseudonym(e.number) for e in changed.numbers]
    assert [row.number_type for row in linked] == [str(e.type) for e in changed.numbers]
    assert (person.birth_year, person.sex) == (changed.birth_year, str(changed.sex))
    assert events == ["stored"]


def test_a_newer_extract_replaces_the_older_and_an_older_one_is_refused(engine: Engine) -> None:
    repository = RegisterRepository(engine)
    first = repository.store_extract(incoming(5), as_stored(oslo(3)))
    elsewhere = repository.store_extract(incoming(1, "1103"), as_stored(oslo(4)))
    second = repository.store_extract(incoming(6), as_stored(oslo(5)))
    assert second.status == "active"
    assert second.supersedes == first.message_id
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(register_extracts.c.message_id, register_extracts.c.status)).all())
        pointer = conn.execute(
            select(register_years.c.active_message_id).where(register_years.c.municipality == "0301")
        ).scalar_one()
    assert statuses == {first.message_id: "superseded", second.message_id: "active", elsewhere.message_id: "active"}
    assert pointer == second.message_id
    for table in (register_persons, register_numbers, register_residences):
        assert count(engine, table, first.message_id) == 0, table.name
        assert count(engine, table, second.message_id) > 0, table.name
    # Another municipality's extract is untouched.
    assert count(engine, register_persons, elsewhere.message_id) == elsewhere.person_count > 0

    with pytest.raises(StaleExtract) as stale:
        repository.store_extract(incoming(6), as_stored(oslo(6)))
    assert stale.value.active_sequence == 6
    assert (stale.value.refused.status, stale.value.refused.refusal_reason) == ("refused", "stale-sequence")
    assert count(engine, register_persons, stale.value.refused.message_id) == 0
    assert count(engine, register_persons, second.message_id) == second.person_count


def test_the_same_message_again_changes_nothing(engine: Engine) -> None:
    repository = RegisterRepository(engine)
    message = incoming(1)
    stored = repository.store_extract(message, as_stored(oslo()))
    with pytest.raises(ReplayedExtract) as replay:
        repository.store_extract(message, as_stored(oslo(9)))
    assert replay.value.original == stored
    assert count(engine, register_persons, stored.message_id) == stored.person_count


def test_a_failure_half_way_leaves_nothing(engine: Engine) -> None:
    repository = RegisterRepository(engine)
    active = repository.store_extract(incoming(1), as_stored(oslo()))

    def broken() -> Iterator[tuple[RegisterRecord, list[Identity]]]:
        records = as_stored(oslo(7))
        yield next(records)
        raise RuntimeError("the payload broke off")

    with pytest.raises(RuntimeError):
        repository.store_extract(incoming(2), broken())
    with engine.connect() as conn:
        rows = conn.execute(select(register_extracts.c.message_id, register_extracts.c.status)).all()
    assert rows == [(active.message_id, "active")]
    assert count(engine, register_persons, active.message_id) == active.person_count


def test_a_refused_number_is_kept_as_its_refusal(engine: Engine) -> None:
    person = oslo()[0]
    record, identities = next(as_stored([person]))
    identities = [(None, "check-digit"), *identities[1:]]
    stored = RegisterRepository(engine).store_extract(incoming(1), [(record, identities)])
    assert stored.identity_refused_count == 1
    with engine.connect() as conn:
        row = conn.execute(select(register_numbers).where(register_numbers.c.ordinal == 0)).one()
    assert (row.pseudonym, row.pseudonym_key_version, row.identity_status) == (None, None, "check-digit")


def test_a_large_extract_refreshes_the_planners_statistics_on_postgresql(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The threshold lowered to this small extract: PostgreSQL's statistics of the join tables are refreshed in the
    # extract's transaction (so that the register controls look each care record up instead of joining everything).
    monkeypatch.setattr(register_module, "_ANALYZE_FROM", 10)
    persons = oslo()
    assert len(persons) >= 10
    with engine.connect() as conn:
        before = _analysed(conn)
    RegisterRepository(engine).store_extract(incoming(1), as_stored(persons))
    deadline = time.monotonic() + 10  # PostgreSQL publishes a backend's statistics within a second or so
    while True:
        with engine.connect() as conn:
            after = _analysed(conn)
        if (
            engine.dialect.name != "postgresql"
            or all(after[t] > before[t] for t in before)
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)
    if engine.dialect.name == "postgresql":
        assert after["register_numbers"] > before["register_numbers"]
        assert after["register_persons"] > before["register_persons"]
    else:
        assert after == before == {}  # SQLite: nothing to refresh (no statistics table written)


def _analysed(conn: Connection) -> dict[str, int]:
    if conn.dialect.name != "postgresql":
        return {name: 1 for (name,) in conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"))}
    rows = conn.execute(
        text(
            "SELECT relname, analyze_count FROM pg_stat_user_tables"
            " WHERE relname IN ('register_numbers', 'register_persons')"
        )
    )
    return {name: int(n) for name, n in rows}
