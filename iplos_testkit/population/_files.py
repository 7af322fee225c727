"""A population's files: the register extract of each year, the care export of each municipality and year, the
answer key of the register faults, and the truth of the flows between years (``generate_population``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from iplos_testkit.population._care import CareExport, care_record
from iplos_testkit.population._faults import RegisterChange, RegisterFault, inject_register_faults
from iplos_testkit.population._flows import flows
from iplos_testkit.population._simulation import Population
from iplos_testkit.writer import write_export
from shared.population import ExtractHeader, RegisterPerson, write_extract

__all__ = ["ANSWER_KEY_FORMAT", "PopulationFiles", "generate_population"]

ANSWER_KEY_FORMAT = "iplos-register-answer-key/1"


@dataclass(frozen=True)
class PopulationFiles:
    """What ``generate_population`` wrote, by year (and municipality)."""

    registers: dict[tuple[int, str], Path]
    exports: dict[tuple[int, str], Path]
    answer_key: Path
    truth: Path
    faults: tuple[RegisterFault, ...]


def _register(
    population: Population, year: int, municipality: str, changes: Sequence[RegisterChange]
) -> list[RegisterPerson]:
    """The extract of ``municipality`` and ``year``: everybody who lived there that year, with their history."""
    changed = {change.pid: change for change in changes if change.year == year}
    persons = []
    for person in population.residents(year)[municipality]:
        view = person.register_view(year)
        assert view is not None  # a resident of the year is in its register
        change = changed.get(person.pid)
        if change is not None:
            view = replace(view, birth_year=change.birth_year, sex=change.sex)
        persons.append(view)
    return persons


def build_exports(population: Population, seed: int) -> dict[tuple[int, str], CareExport]:
    """Every municipality's export of every year: the persons receiving care who lived there that year."""
    exports = {}
    for year in population.years:
        for municipality in population.municipalities:
            export = CareExport(municipality, year, seed)
            for person in population.residents(year)[municipality]:
                if person.care_from is None or person.care_from > year:
                    continue
                window = person.windows_in(municipality, year)
                if window is None:
                    continue
                bruker_nr = str(100000 + person.pid)
                export.records[bruker_nr] = care_record(export, person, bruker_nr, window)
                export.persons[bruker_nr] = person
            exports[(year, municipality)] = export
    return exports


def generate_population(
    out: Path,
    municipalities: Sequence[str],
    years: Sequence[int],
    *,
    residents: int,
    seed: int,
    errors: float = 0.0,
) -> PopulationFiles:
    """Simulate the population and write its files under ``out`` (made if missing):
    ``folkeregister/<year>/<kommunenummer>.jsonl``, ``<year>/<kommunenummer>.xml``, ``answer-key.json`` and
    ``truth.json``."""
    if not 0.0 <= errors <= 1.0:
        raise ValueError("errors is a share between 0 and 1")
    population = Population(municipalities, years, residents, seed)
    exports = build_exports(population, seed)
    faults, changes = inject_register_faults(population, exports, errors)
    out.mkdir(parents=True, exist_ok=True)
    registers: dict[tuple[int, str], Path] = {}
    for year in population.years:
        for municipality in population.municipalities:
            path = registers[(year, municipality)] = out / "folkeregister" / str(year) / f"{municipality}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            extract_id = str(uuid.UUID(int=population.rng.getrandbits(128), version=4))
            header = ExtractHeader(extract_id, municipality, year, dt.date(year + 1, 1, 20))
            with path.open("wb") as handle:
                write_extract(handle, header, _register(population, year, municipality, changes))
    written: dict[tuple[int, str], Path] = {}
    for (year, municipality), export in sorted(exports.items()):
        path = written[(year, municipality)] = out / str(year) / f"{municipality}.xml"
        path.parent.mkdir(exist_ok=True)
        write_export(path, export.header, export.records.values())
    answer_key = out / "answer-key.json"
    answer_key.write_text(
        json.dumps(
            {
                "format": ANSWER_KEY_FORMAT,
                "faults": [
                    {"year": f.year, "kommuneNr": f.municipality, "brukerNr": f.bruker_nr, "kind": str(f.kind)}
                    for f in faults
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    truth = out / "truth.json"
    truth.write_text(json.dumps(flows(exports), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return PopulationFiles(registers, written, answer_key, truth, tuple(faults))
