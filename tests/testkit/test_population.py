"""The synthetic population (``iplos_testkit.population``): its register extracts and care exports are valid and
agree with each other, the register faults it injects are exactly those an independent reading of its files finds,
and its truth of the flows between years is what linking the records through the register gives."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Hashable
from pathlib import Path

import pytest

from iplos_testkit.population import LONG_TERM_STAY, PopulationFiles, generate_population
from shared import fnr
from shared.iplos.controls import ControlRunner
from shared.iplos.model import PersonRecord
from shared.iplos.payload import to_payload
from shared.iplos.reader import read_export
from shared.population import RegisterPerson, read_extract

MUNICIPALITIES = ("0301", "1103", "4601")
YEARS = (2024, 2025)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, YEARS, residents=300, seed=7, errors=0.06)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("clean")
    return generate_population(out, MUNICIPALITIES[:2], YEARS, residents=300, seed=8)


def extract(files: PopulationFiles, year: int, municipality: str) -> list[RegisterPerson]:
    with files.registers[(year, municipality)].open("rb") as handle:
        header, persons = read_extract(handle)
        assert (header.year, header.municipality) == (year, municipality)
        return list(persons)


def register(files: PopulationFiles, year: int) -> list[RegisterPerson]:
    """Every person of the year's extracts, once (a person who moved is in two municipalities' extracts)."""
    persons: dict[str, RegisterPerson] = {}
    for extract_year, municipality in sorted(files.registers):
        if extract_year == year:
            for person in extract(files, year, municipality):
                assert persons.setdefault(person.numbers[0].number, person) == person
    return list(persons.values())


def export(files: PopulationFiles, year: int, municipality: str) -> list[PersonRecord]:
    with read_export(files.exports[(year, municipality)]) as reader:
        assert reader.header.kommune_nr == municipality
        assert reader.header.rapporteringsaar == year
        records = list(reader)
        assert reader.finished
    return records


def test_every_file_is_valid_and_the_numbers_synthetic(faulty: PopulationFiles) -> None:
    for year in YEARS:
        persons = register(faulty, year)
        assert len(persons) > 800
        numbers = [entry.number for p in persons for entry in p.numbers]
        assert len(numbers) == len(set(numbers)), "a number belongs to one person"
        assert all(fnr.parse(number).synthetic for number in numbers)
        for municipality in MUNICIPALITIES:
            records = export(faulty, year, municipality)
            assert len(records) > 50
            assert all(fnr.parse(r.fid).synthetic for r in records)


def test_the_generated_records_pass_every_logical_control(faulty: PopulationFiles) -> None:
    # The register faults are invisible to the controls on the export alone: none may fire, on clean or faulted
    # records (services cut at a move or a death must still follow every rule).
    for (year, municipality), _path in sorted(faulty.exports.items()):
        with read_export(faulty.exports[(year, municipality)]) as reader:
            runner = ControlRunner(reader.header, signer_municipality=municipality)
            findings = list(runner.submission_findings())
            for index, person in enumerate(reader):
                number = fnr.parse(person.fid)
                record = to_payload(person, f"{index:032x}", number.birth_year, number.sex)
                findings += runner.check(record, hashlib.sha256(person.fid.encode()).digest(), "ok")
        assert findings == [], (year, municipality, Counter(f.code for f in findings))


def register_findings(files: PopulationFiles, municipalities: tuple[str, ...]) -> set[tuple[int, str, str, str]]:
    """The four register rules of issue 14, read from the files alone: (year, kommuneNr, brukerNr, kind)."""
    found = set()
    for year in YEARS:
        by_number = {entry.number: person for person in register(files, year) for entry in person.numbers}
        for municipality in municipalities:
            for record in export(files, year, municipality):
                known = by_number.get(record.fid)
                if known is None:
                    found.add((year, municipality, record.bruker_nr, "unknown"))
                    continue
                if not known.resident_in(municipality, year):
                    found.add((year, municipality, record.bruker_nr, "not-resident"))
                death = known.death_date
                if death is not None and any(s.end_date is None or s.end_date > death for s in record.services):
                    found.add((year, municipality, record.bruker_nr, "after-death"))
                number = fnr.parse(record.fid)
                if (known.sex, known.birth_year) != (number.sex, number.birth_year):
                    found.add((year, municipality, record.bruker_nr, "differs"))
    return found


def test_the_answer_key_is_exactly_what_the_files_show(faulty: PopulationFiles) -> None:
    key = json.loads(faulty.answer_key.read_text(encoding="utf-8"))
    assert key["format"] == "iplos-register-answer-key/1"
    expected = {(f["year"], f["kommuneNr"], f["brukerNr"], f["kind"]) for f in key["faults"]}
    assert len(expected) == len(key["faults"])
    assert {kind for *_, kind in expected} == {"unknown", "not-resident", "after-death", "differs"}
    assert register_findings(faulty, MUNICIPALITIES) == expected


def test_clean_data_has_no_register_fault(clean: PopulationFiles) -> None:
    assert json.loads(clean.answer_key.read_text(encoding="utf-8"))["faults"] == []
    assert register_findings(clean, MUNICIPALITIES[:2]) == set()


def _linked(
    files: PopulationFiles, municipalities: tuple[str, ...]
) -> dict[tuple[int, str], dict[Hashable, PersonRecord]]:
    """Each export's records by person, linked through the register as the registry will link pseudonyms: every
    number of one register person is that person (across both years' extracts); an unknown number is its own."""
    person_of: dict[str, int] = {}
    for year in YEARS:
        for person in register(files, year):
            ids = [person_of[e.number] for e in person.numbers if e.number in person_of]
            identity = ids[0] if ids else len(person_of) + 1
            for entry in person.numbers:
                person_of[entry.number] = identity
    return {
        (year, m): {person_of.get(r.fid, r.fid): r for r in export(files, year, m)}
        for year in YEARS
        for m in municipalities
    }


def test_the_truth_of_the_flows_is_what_linking_through_the_register_gives(faulty: PopulationFiles) -> None:
    truth = json.loads(faulty.truth.read_text(encoding="utf-8"))
    linked = _linked(faulty, MUNICIPALITIES)
    before = {m: linked[(2024, m)] for m in MUNICIPALITIES}
    now = {m: linked[(2025, m)] for m in MUNICIPALITIES}
    for m in MUNICIPALITIES:
        was, is_ = before[m], now[m]
        other_before = set().union(*(before[o] for o in MUNICIPALITIES if o != m))
        other_now = set().union(*(now[o] for o in MUNICIPALITIES if o != m))
        all_before, all_now = set().union(*before.values()), set().union(*now.values())
        both = was.keys() & is_.keys()

        def at_home(r: PersonRecord) -> bool:
            return all(s.tjeneste_type != LONG_TERM_STAY for s in r.services)

        def long_term(r: PersonRecord) -> bool:
            return any(s.tjeneste_type == LONG_TERM_STAY for s in r.services)

        assert truth["2025"][m] == {
            "continuing": len(both),
            "new": len(is_.keys() - all_before),
            "moved_in": len((is_.keys() - was.keys()) & other_before),
            "ended": len(was.keys() - all_now),
            "moved_out": len((was.keys() - is_.keys()) & other_now),
            "to_institution": sum(1 for p in both if at_home(was[p]) and long_term(is_[p])),
        }
    # The country: each person once, whichever municipalities reported them.
    was: dict[Hashable, list[tuple[str, PersonRecord]]] = {}
    is_: dict[Hashable, list[tuple[str, PersonRecord]]] = {}
    for m in MUNICIPALITIES:
        for who, record in before[m].items():
            was.setdefault(who, []).append((m, record))
        for who, record in now[m].items():
            is_.setdefault(who, []).append((m, record))
    both = was.keys() & is_.keys()
    moved = sum(1 for p in both if {m for m, _ in was[p]} != {m for m, _ in is_[p]})
    national = truth["2025"]["national"]
    assert national == {
        "continuing": len(both),
        "new": len(is_.keys() - was.keys()),
        "moved_in": moved,
        "ended": len(was.keys() - is_.keys()),
        "moved_out": moved,
        "to_institution": sum(
            1 for p in both if all(at_home(r) for _, r in was[p]) and any(long_term(r) for _, r in is_[p])
        ),
    }
    assert min(national.values()) > 0, "every kind of flow occurs"
    # Somebody who moved during the year is reported by two municipalities: the country counts them once.
    assert national["new"] < sum(truth["2025"][m]["new"] + truth["2025"][m]["moved_in"] for m in MUNICIPALITIES)


def test_a_changed_number_is_one_person_across_the_years(faulty: PopulationFiles) -> None:
    # Somebody reported under a D-number in one year and a fødselsnummer in the other (or the municipality still
    # using the D-number) is one person: the register lists both numbers on one line.
    changed = [p for p in register(faulty, 2025) if len(p.numbers) > 1]
    assert changed, "the population has D-numbers replaced by fødselsnumre"
    assert all(p.numbers[0].valid_to is not None and p.current.type == "FNR" for p in changed)
    linked = _linked(faulty, MUNICIPALITIES)
    numbers_by_person: dict[Hashable, set[str]] = {}
    for records in linked.values():
        for who, record in records.items():
            numbers_by_person.setdefault(who, set()).add(record.fid)
    assert any(len(numbers) > 1 for numbers in numbers_by_person.values()), "one person reported under two numbers"


def test_the_same_arguments_give_the_same_files(tmp_path: Path) -> None:
    first = generate_population(tmp_path / "a", ("0301",), (2025,), residents=60, seed=3, errors=0.1)
    generate_population(tmp_path / "b", ("0301",), (2025,), residents=60, seed=3, errors=0.1)
    for path in (first.registers[(2025, "0301")], first.exports[(2025, "0301")], first.answer_key, first.truth):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    other = generate_population(tmp_path / "c", ("0301",), (2025,), residents=60, seed=4)
    assert other.registers[(2025, "0301")].read_bytes() != first.registers[(2025, "0301")].read_bytes()


def test_deaths_moves_and_arrivals_are_in_the_register(faulty: PopulationFiles) -> None:
    persons = register(faulty, 2025)
    year_start, year_end = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    assert any(p.death_date is not None for p in persons)
    assert any(p.municipality_on(year_start) != p.municipality_on(year_end) for p in persons if p.death_date is None)
    assert any(p.residence[0].start > year_start for p in persons), "arrivals during the year"


def test_the_command_writes_the_files_and_refuses_bad_options_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from iplos_cli.main import app

    runner = CliRunner()
    out = tmp_path / "set"
    result = runner.invoke(
        app, ["generate-population", "-o", str(out), "--municipalities", "0301", "--years", "2025", "--residents", "40"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "2025",
        "answer-key.json",
        "folkeregister",
        "truth.json",
    ]
    assert (out / "2025" / "0301.xml").is_file()
    assert (out / "folkeregister" / "2025" / "0301.jsonl").is_file()
    for options, complaint in (
        (["--municipalities", "0301,0999"], "not a municipality in 2024: 0999"),
        (["--municipalities", "301"], "four-digit kommunenummer"),
        (["--years", "2023,2025"], "the years must follow one another"),
        (["--years", "2018"], "no municipality list for 2018"),
    ):
        result = runner.invoke(app, ["generate-population", "-o", str(tmp_path / "no"), *options])
        assert result.exit_code == 2
        assert complaint in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_fault_is_listed_once_and_found_whatever_the_seed(tmp_path: Path, seed: int) -> None:
    files = generate_population(tmp_path, MUNICIPALITIES[:2], YEARS, residents=120, seed=seed, errors=0.15)
    key = json.loads(files.answer_key.read_text(encoding="utf-8"))["faults"]
    listed = [(f["year"], f["kommuneNr"], f["brukerNr"], f["kind"]) for f in key]
    assert len(listed) == len(set(listed)), "no fault listed twice"
    assert register_findings(files, MUNICIPALITIES[:2]) == set(listed)
