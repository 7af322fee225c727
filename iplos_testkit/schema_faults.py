"""Schema faults put into a generated export at known places, with what a check must say of each: the rule, the
element (and attribute), the person and the line. For the tests of ``iplos validate`` and of the gateway's
``schema-invalid`` answer, and for the municipal pages' upload.

Each fault is a substitution inside one ``<person>`` (its first match there), so the person and the line of the
fault are known from the text. The values put in are synthetic and chosen so that a leak would show: the
``fnr-in-orgnr`` fault puts the person's own (synthetic) identity number where an organisation number belongs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SchemaFault:
    name: str
    pattern: str
    replacement: str
    rule: str
    element: str
    attribute: str = ""
    offset: str = ""
    """Text that starts the faulty line, where it is not the pattern's own match (a missing element is found by
    the next one)."""


SCHEMA_FAULTS: tuple[SchemaFault, ...] = (
    SchemaFault(
        "no-such-day",
        r"<vedtaksdato>[^<]*</vedtaksdato>",
        "<vedtaksdato>2025-02-30</vedtaksdato>",
        "not-a-date",
        "vedtaksdato",
    ),
    SchemaFault(
        "date-form",
        r"<startdato>[^<]*</startdato>",
        "<startdato>15.04.2025</startdato>",
        "date-form",
        "startdato",
    ),
    SchemaFault("fid-type", r'<fid type="FNR">', '<fid type="XYZ">', "not-in-list", "fid", "type"),
    SchemaFault("score", r'skaar="\d"', 'skaar="12"', "out-of-range", "vurdering", "skaar"),
    SchemaFault("score-form", r'skaar="\d"', 'skaar="x"', "wrong-form", "vurdering", "skaar"),
    SchemaFault(
        "fnr-in-orgnr",
        r"<orgNr>\d+</orgNr>",
        "<orgNr>{fnr}</orgNr>",
        "wrong-form",
        "orgNr",
    ),
    SchemaFault("no-variable", r' variabel="[a-zA-Z]+"', "", "missing-attribute", "vurdering", "variabel"),
    SchemaFault("unknown-element", r"<bolig>", "<hage>1</hage><bolig>", "unexpected-element", "[unknown element]"),
    SchemaFault(
        "yes-no", r"<privatHjelp>\w+</privatHjelp>", "<privatHjelp>ja</privatHjelp>", "wrong-form", "privatHjelp"
    ),
    SchemaFault("no-bruker-nr", r"<brukerNr>[^<]*</brukerNr>\s*", "", "unexpected-element", "fid", offset="<fid"),
)


@dataclass(frozen=True)
class PlacedFault:
    fault: SchemaFault
    person: int
    """The person's position in the file, from 1."""
    line: int
    bruker_nr: str | None
    """The person's brukerNr, None where the fault removed it."""


def with_faults(source: Path, target: Path, placed: list[tuple[str, int]]) -> list[PlacedFault]:
    """Write ``source`` with each (fault name, person position) applied to ``target``; return where each landed,
    in document order. A person takes at most one fault."""
    by_name = {fault.name: fault for fault in SCHEMA_FAULTS}
    head, *persons = source.read_text(encoding="utf-8").split("<person>")
    chosen = dict((person, by_name[name]) for name, person in placed)
    for person, fault in chosen.items():
        text = persons[person - 1]
        fnr = re.search(r'<fid type="[A-Z]+">(\d{11})</fid>', text)
        replacement = fault.replacement.replace("{fnr}", fnr.group(1) if fnr else "")
        changed = re.sub(fault.pattern, replacement, text, count=1)
        if changed == text:
            raise ValueError(f"fault {fault.name} does not apply to person {person}")
        persons[person - 1] = changed
    document = "<person>".join([head, *persons])
    target.write_text(document, encoding="utf-8")
    result: list[PlacedFault] = []
    start = len(head)
    for index, text in enumerate(persons, start=1):
        landed = chosen.get(index)
        if landed is not None:
            mark = landed.offset or _mark(landed, text)
            at = document.index(mark, start)
            bruker = re.search(r"<brukerNr>([^<]*)</brukerNr>", text)
            result.append(
                PlacedFault(landed, index, document.count("\n", 0, at) + 1, bruker.group(1) if bruker else None)
            )
        start += len("<person>") + len(text)
    return result


def _mark(fault: SchemaFault, text: str) -> str:
    """Text that starts the faulty element in the changed person: its opening tag."""
    match = re.search(rf"<{fault.element if fault.element != '[unknown element]' else 'hage'}[ >]", text)
    if match is None:
        raise ValueError(f"fault {fault.name}: its element is not in the person")
    return match.group(0)


def spread_faults(source: Path, target: Path, names: list[str]) -> list[PlacedFault]:
    """Each named fault once, spread over the file: the k-th in the first person it applies to from the k-th
    slice of the persons on (a person takes one fault)."""
    by_name = {fault.name: fault for fault in SCHEMA_FAULTS}
    persons = source.read_text(encoding="utf-8").split("<person>")[1:]
    taken: set[int] = set()
    placed: list[tuple[str, int]] = []
    for k, name in enumerate(names):
        start = k * len(persons) // max(1, len(names))
        for index in [*range(start, len(persons)), *range(start)]:
            if index + 1 not in taken and re.search(by_name[name].pattern, persons[index]):
                taken.add(index + 1)
                placed.append((name, index + 1))
                break
        else:
            raise ValueError(f"no person of the export takes fault {name}")
    return with_faults(source, target, placed)


def applicable_persons(source: Path, name: str) -> list[int]:
    """The positions (from 1) of the persons of ``source`` that fault ``name`` applies to."""
    pattern = next(fault.pattern for fault in SCHEMA_FAULTS if fault.name == name)
    persons = source.read_text(encoding="utf-8").split("<person>")[1:]
    return [index for index, text in enumerate(persons, start=1) if re.search(pattern, text)]
