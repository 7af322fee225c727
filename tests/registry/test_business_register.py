"""The business register controls (K036-K039, services/registry_intake/repository/business_checks.py): synthetic
exports with the business register faults, stored as the intake stores them, and the synthetic Enhetsregisteret
loaded as its operators load it (the real bulk formats), give exactly the injected faults and nothing else, whichever
comes first; a newer file that no longer lists a unit deletes it as of its day; an older one changes nothing. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from iplos_testkit.business_register import municipal_units, synthetic_units, write_synthetic_register
from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.faults import BUSINESS_KINDS, FAULT_CODES
from services.registry_intake.models import business_units, findings, sealed_reports, submissions
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.business_register import BusinessRegisterRepository, StaleBusinessFile
from shared.business_register import UnitKind, read_units, write_units_csv
from shared.iplos.controls import BUSINESS_CODES, UNIT_DELETED
from shared.iplos.reader import read_export
from tests.registry.register_data import bruker_nrs, care_records, incoming

# Oslo in 2025, and Ålesund (1507) in 2023: its number changed in 2024 (to 1508 and 1580), and the register lists its
# units under the new one, which the municipality check must take as the same municipality.
EXPORTS = (("0301", 2025), ("1507", 2023))
AS_OF = dt.date(2026, 1, 5)

Found = set[tuple[str, str, str]]  # (municipality, brukerNr, code)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("business")
    paths = write_synthetic_register(out / "csv")
    json_paths = write_synthetic_register(out / "json", file_format="json", compress=False)
    return {
        "enheter.csv": paths[UnitKind.ENHET],
        "underenheter.csv": paths[UnitKind.UNDERENHET],
        "enheter.json": json_paths[UnitKind.ENHET],
        "underenheter.json": json_paths[UnitKind.UNDERENHET],
    }


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Found]]:
    """Each municipality's export with about one person in five faulted (every kind, the business ones included)."""
    out = tmp_path_factory.mktemp("exports")
    made = {}
    for municipality, year in EXPORTS:
        path = out / f"{municipality}-{year}.xml"
        _, key = write_synthetic_export(path, municipality, year, 300, 3, errors=0.2, business_faults=True)
        assert key is not None
        expected = {
            (municipality, bruker_nr, FAULT_CODES[kind])
            for bruker_nr, kind in key.kinds.items()
            if kind in BUSINESS_KINDS
        }
        assert {code for _, _, code in expected} == BUSINESS_CODES  # every kind, in each export
        made[municipality] = (path, expected)
    return made


def _load(engine: Engine, path: Path, as_of: dt.date = AS_OF) -> dict[str, int]:
    with path.open("rb") as handle:
        kind, units = read_units(handle)
        outcome = BusinessRegisterRepository(engine).load(
            kind,
            units,
            as_of=as_of,
            file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            loaded_by="test-operator",
            now=dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC),
        )
    return outcome.findings_changed


def _store_care(engine: Engine, exports: dict[str, tuple[Path, Found]]) -> dict[str, str]:
    """Store each export; each submission's municipality by id."""
    repository = SubmissionRepository(engine)
    ids = {}
    for municipality, year in EXPORTS:
        stored = repository.store(incoming(municipality, year), care_records(exports[municipality][0]))
        ids[stored.message_id] = municipality
    return ids


def _found(engine: Engine, exports: dict[str, tuple[Path, Found]], ids: dict[str, str]) -> Found:
    names = {m: bruker_nrs(path) for m, (path, _) in exports.items()}
    with engine.connect() as conn:
        rows = conn.execute(
            select(findings.c.submission_id, findings.c.ref, findings.c.code).where(
                findings.c.submission_id.in_(ids), findings.c.code.in_(BUSINESS_CODES)
            )
        ).all()
    return {(ids[row.submission_id], names[ids[row.submission_id]][row.ref], row.code) for row in rows}


def _expected(exports: dict[str, tuple[Path, Found]]) -> Found:
    return set().union(*(expected for _, expected in exports.values()))


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_care_first_then_the_register_finds_exactly_the_injected_faults(
    engine: Engine, files: dict[str, Path], exports: dict[str, tuple[Path, Found]], file_format: str
) -> None:
    ids = _store_care(engine, exports)
    assert _found(engine, exports, ids) == set()
    # Main units alone judge nothing (a sub-unit's number would be "not in the register").
    assert _load(engine, files[f"enheter.{file_format}"]) == {}
    assert _found(engine, exports, ids) == set()
    with engine.begin() as conn:  # a report sealed before the register is loaded: it must be sealed again
        for sid in ids:
            conn.execute(sealed_reports.insert().values(_sealed_row(sid)))
    changed = _load(engine, files[f"underenheter.{file_format}"])
    assert _found(engine, exports, ids) == _expected(exports)
    assert sum(changed.values()) == len(_expected(exports))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sealed_reports)).scalar_one() == 0
        for sid in ids:  # the counts follow the findings
            counted = conn.execute(
                select(func.count()).select_from(findings).where(findings.c.submission_id == sid)
            ).scalar_one()
            stored = conn.execute(
                select(submissions.c.finding_count).where(submissions.c.message_id == sid)
            ).scalar_one()
            assert stored == counted
    # The same files again change no finding, and leave a sealed report where it is.
    with engine.begin() as conn:
        conn.execute(sealed_reports.insert().values(_sealed_row(next(iter(ids)))))
    assert _load(engine, files[f"underenheter.{file_format}"]) == {}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sealed_reports)).scalar_one() == 1


def test_a_submission_stored_after_the_register_is_judged_at_once(
    engine: Engine, files: dict[str, Path], exports: dict[str, tuple[Path, Found]]
) -> None:
    _load(engine, files["enheter.csv"])
    _load(engine, files["underenheter.csv"])
    ids = _store_care(engine, exports)
    assert _found(engine, exports, ids) == _expected(exports)


def test_a_unit_a_newer_file_no_longer_lists_is_deleted_as_of_that_day(
    engine: Engine, files: dict[str, Path], exports: dict[str, tuple[Path, Found]], tmp_path: Path
) -> None:
    march, june = dt.date(2025, 3, 1), dt.date(2025, 6, 1)
    _load(engine, files["enheter.csv"], as_of=march)
    _load(engine, files["underenheter.csv"], as_of=march)
    ids = _store_care(engine, exports)
    before = _found(engine, exports, ids)
    assert before == _expected(exports)
    # Oslo's home nursing units leave the register: a file taken in June 2025 no longer lists them.
    gone = set(municipal_units("0301")["hjemmetjeneste"])
    newer = tmp_path / "underenheter.csv.gz"
    with gzip.open(newer, "wb") as out:
        kept = (u for u in synthetic_units(UnitKind.UNDERENHET) if u.org_nr not in gone)
        write_units_csv(kept, out, UnitKind.UNDERENHET)
    with pytest.raises(StaleBusinessFile):  # a file older than the one loaded would undo it
        _load(engine, newer, as_of=march - dt.timedelta(days=1))
    assert _found(engine, exports, ids) == before
    _load(engine, newer, as_of=june)
    with engine.connect() as conn:
        rows = conn.execute(
            select(business_units.c.deleted_on, business_units.c.deletion).where(business_units.c.org_nr.in_(gone))
        ).all()
    assert len(rows) == len(gone)
    assert {(r.deleted_on, r.deletion) for r in rows} == {(june, "absent")}
    # Computed from the export: each of Oslo's 2025 services of those units still running on the first of June.
    with read_export(exports["0301"][0]) as reader:
        deleted = {
            ("0301", person.bruker_nr, UNIT_DELETED)
            for person in reader
            for service in person.services
            if service.org_nr in gone and (service.end_date is None or service.end_date >= june)
        }
    assert deleted, "the seed gives Oslo home nursing that runs past June"
    assert _found(engine, exports, ids) == before | deleted
    # The file again, a day later: the deletion day stands (the first file without the unit), nothing changes.
    assert _load(engine, newer, as_of=june + dt.timedelta(days=1)) == {}


def _sealed_row(message_id: str) -> dict[str, object]:
    return {
        "message_id": message_id,
        "recipient_kid": "0" * 16,
        "body": b"sealed",
        "sealed_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    }
