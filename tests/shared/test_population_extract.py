"""The population register extract (``iplos-folkeregister/1``): what the writer writes reads back the same, and
every rule of docs/population-register.md is refused by name, at its line, without the number in the message."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared import fnr
from shared.fnr import Sex
from shared.population import (
    EXTRACT_FORMAT,
    ExtractHeader,
    ExtractInvalid,
    IdentityEntry,
    NumberType,
    RegisterPerson,
    Residence,
    bounded_lines,
    encode_person,
    read_extract,
    write_extract,
)

D = dt.date
HEADER = ExtractHeader("0b5e2a6c-3f1d-4c8e-9a7b-2d4f6e8a0c1e", "0301", 2025, D(2026, 1, 20))
BIRTH = D(1950, 3, 14)
FNR = fnr.make_synthetic(BIRTH, 123)
DNR = fnr.make_synthetic(BIRTH, 123, d_number=True)


def _h_number() -> str:
    """An H-number (month + 40) for the same birth date: a helper number, not a population register number."""
    for individual in range(100, 500):
        first9 = f"{BIRTH.day:02d}{BIRTH.month + 40:02d}{BIRTH.year % 100:02d}{individual:03d}"
        try:
            return first9 + fnr.check_digits(first9)
        except fnr.InvalidIdentityNumber:
            continue
    raise AssertionError("no H-number")


HNR = _h_number()
assert fnr.parse(HNR).kind is fnr.FnrKind.H_NUMBER
assert FNR is not None
assert DNR is not None


def person(**changes: Any) -> RegisterPerson:
    base = RegisterPerson(
        numbers=(
            IdentityEntry(DNR, NumberType.DNR, D(2010, 5, 1), D(2025, 6, 30)),
            IdentityEntry(FNR, NumberType.FNR, D(2025, 7, 1), None),
        ),
        sex=Sex.MALE,
        birth_year=1950,
        residence=(Residence("0301", D(2010, 5, 1), D(2025, 3, 31)), Residence("1103", D(2025, 4, 1), None)),
        death_date=None,
    )
    values = {field: getattr(base, field) for field in base.__slots__}  # type: ignore[attr-defined]
    values.update(changes)
    return RegisterPerson(**values)


def extract(*persons: RegisterPerson) -> bytes:
    out = io.BytesIO()
    write_extract(out, HEADER, persons)
    return out.getvalue()


def read_all(data: bytes) -> tuple[ExtractHeader, list[RegisterPerson]]:
    header, persons = read_extract(io.BytesIO(data))
    return header, list(persons)


def test_what_is_written_reads_back_the_same() -> None:
    dead = person(
        residence=(Residence("0301", D(2010, 5, 1), D(2025, 8, 2)),),
        death_date=D(2025, 8, 2),
        sex=None,
        birth_year=None,
    )
    header, persons = read_all(extract(person(), dead))
    assert header == HEADER
    assert persons == [person(), dead]
    first = persons[0]
    assert first.current.number == FNR
    assert first.municipality_on(D(2025, 1, 1)) == "0301"
    assert first.municipality_on(D(2025, 12, 31)) == "1103"
    assert first.resident_in("0301", 2025)
    assert first.resident_in("1103", 2025)
    assert not first.resident_in("0301", 2026)
    assert persons[1].municipality_on(D(2025, 8, 3)) is None


def test_the_format_line_is_compact_sorted_json() -> None:
    line = encode_person(person())
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert json.loads(line) == {
        "bosted": [
            {"fra": "2010-05-01", "kommunenummer": "0301", "til": "2025-03-31"},
            {"fra": "2025-04-01", "kommunenummer": "1103", "til": None},
        ],
        "doedsdato": None,
        "foedselsaar": 1950,
        "identifikasjonsnummer": [
            {"gyldigFra": "2010-05-01", "gyldigTil": "2025-06-30", "nummer": DNR, "type": "DNR"},
            {"gyldigFra": "2025-07-01", "gyldigTil": None, "nummer": FNR, "type": "FNR"},
        ],
        "kjoenn": "M",
    }
    assert extract().startswith(b'{"aar":2025,"dannet":"2026-01-20","format":"' + EXTRACT_FORMAT.encode())


def _person_line(change: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(encode_person(person()))
    change(obj)
    return (json.dumps(obj) + "\n").encode()


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


BROKEN_PERSONS = {
    "an unknown key": (lambda o: o.update(navn="x"), "unknown or missing keys"),
    "no numbers": (_set(("identifikasjonsnummer",), []), "at least one number"),
    "a bad check digit": (
        _set(("identifikasjonsnummer", 1, "nummer"), FNR[:-1] + str((int(FNR[-1]) + 1) % 10)),
        "not a valid identity number (check-digit)",
    ),
    "a D-number typed FNR": (_set(("identifikasjonsnummer", 0, "type"), "FNR"), "type does not match"),
    "an unknown type": (_set(("identifikasjonsnummer", 0, "type"), "HNR"), "type must be FNR or DNR"),
    "two numbers in use": (_set(("identifikasjonsnummer", 0, "gyldigTil"), None), "exactly one identity number"),
    "the same number twice": (
        _set(
            ("identifikasjonsnummer", 0), {"nummer": FNR, "type": "FNR", "gyldigFra": None, "gyldigTil": "2025-06-30"}
        ),
        "listed twice",
    ),
    "a validity ending before it starts": (
        _set(("identifikasjonsnummer", 0, "gyldigTil"), "2001-01-01"),
        "gyldigTil lies before gyldigFra",
    ),
    "a date that does not exist": (_set(("identifikasjonsnummer", 0, "gyldigFra"), "2025-02-30"), "not a real date"),
    "a date in another form": (_set(("doedsdato",), "1.8.2025"), "doedsdato must be a date"),
    "an unknown sex": (_set(("kjoenn",), "X"), "kjoenn must be"),
    "a birth year in the future": (_set(("foedselsaar",), 2026), "foedselsaar must be"),
    "a birth year as text": (_set(("foedselsaar",), "1950"), "foedselsaar must be"),
    "no residence": (_set(("bosted",), []), "at least one period"),
    "a municipality of three digits": (_set(("bosted", 0, "kommunenummer"), "301"), "four digits"),
    "overlapping residences": (_set(("bosted", 1, "fra"), "2025-03-31"), "without overlapping"),
    "residence after an open one": (_set(("bosted", 0, "til"), None), "without overlapping"),
    "a residence ending before it starts": (_set(("bosted", 0, "til"), "2009-01-01"), "til lies before fra"),
    "no residence in the year": (
        _set(("bosted",), [{"kommunenummer": "0301", "fra": "2001-01-01", "til": "2020-01-01"}]),
        "no bosted period in the extract's municipality and year",
    ),
    "living on after death": (_set(("doedsdato",), "2025-08-01"), "must end on or before doedsdato"),
    "a number as an integer": (_set(("identifikasjonsnummer", 1, "nummer"), 1), "nummer must be a string"),
    "an H-number typed FNR": (_set(("identifikasjonsnummer", 1, "nummer"), HNR), "type does not match"),
    "a birth year before 1850": (_set(("foedselsaar",), 1849), "foedselsaar must be"),
    "a sex as a list": (_set(("kjoenn",), ["M"]), "kjoenn must be"),
    "eleven numbers": (_set(("identifikasjonsnummer",), [{}] * 11), "more than 10 entries"),
    "201 residences": (_set(("bosted",), [{}] * 201), "more than 200 entries"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_PERSONS))
def test_a_broken_person_is_refused_at_its_line_by_rule_without_the_number(case: str) -> None:
    change, rule = BROKEN_PERSONS[case]
    lines = extract(person(), person()).splitlines(keepends=True)
    lines[2] = _person_line(change)
    with pytest.raises(ExtractInvalid) as caught:
        read_all(b"".join(lines))
    message = str(caught.value)
    assert message.startswith("extract line 3: ")
    assert rule in message
    for number in (FNR, DNR):
        assert number not in message
        assert number[:6] not in message
    # Nothing chained that a traceback would print (a parser's exception quotes its input).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


BROKEN_STREAMS = {
    "empty": (b"", "the extract is empty"),
    "another format": (b'{"format":"iplos-payload/2"}\n', "not an iplos-folkeregister/1 stream"),
    "a header key missing": (
        b'{"format":"iplos-folkeregister/1","aar":2025,"dannet":"2026-01-20"}\n',
        "unknown or missing keys",
    ),
    "no trailer": (extract(person()).rsplit(b"\n", 2)[0] + b"\n", "no trailer after 1 persons"),
    "a wrong count": (extract(person()).replace(b'{"antall":1}', b'{"antall":2}'), "antall differs"),
    "a line after the trailer": (extract(person()) + b'{"antall":1}\n', "line 4: nothing may follow"),
    "a truncated line": (extract(person())[:-1], "does not end with a newline"),
    "a duplicate key": (extract().replace(b'{"antall":0}', b'{"antall":0,"antall":0}'), "not a valid UTF-8 JSON"),
    "NaN": (extract().replace(b'{"antall":0}', b'{"antall":NaN}'), "not a valid UTF-8 JSON"),
    "not an object": (extract().replace(b'{"antall":0}', b"[0]"), "not a JSON object"),
    "a long line": (extract().replace(b'{"antall":0}', b'{"x":"' + b"a" * 70_000 + b'"}'), "longer than 65536"),
    "not UTF-8": (extract().replace(b'{"antall":0}', b'{"x":"\xff"}'), "not a valid UTF-8 JSON"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_STREAMS))
def test_a_broken_stream_is_refused(case: str) -> None:
    data, rule = BROKEN_STREAMS[case]
    with pytest.raises(ExtractInvalid, match=rule):
        read_all(data)


def test_an_extract_is_made_after_its_year() -> None:
    good = json.loads(extract().splitlines()[0])
    header, _ = read_all((json.dumps(dict(good, dannet="2026-01-01")) + "\n").encode() + b'{"antall":0}\n')
    assert header.created == D(2026, 1, 1)


def test_a_long_line_is_refused_without_being_read_whole() -> None:
    data = extract(person()).replace(b'{"antall":1}', b'{"x":"' + b"a" * 5_000_000 + b'"}')
    source = io.BytesIO(data)
    with pytest.raises(ExtractInvalid, match="longer than 65536"):
        list(read_extract(bounded_lines(source))[1])
    # The first line, the person and at most one line's worth of the long one.
    assert source.tell() < len(data) // 10


def test_a_header_with_a_bad_year_or_id_is_refused() -> None:
    good = json.loads(extract().splitlines()[0])
    for key, value, rule in (
        ("aar", 1999, "aar must be"),
        ("aar", True, "aar must be"),
        ("uttrekksId", "not-a-uuid", "uttrekksId"),
        ("dannet", "2025-12-31", "dannet must lie after the year"),
    ):
        header = dict(good, **{key: value})
        with pytest.raises(ExtractInvalid, match=rule):
            read_all((json.dumps(header) + "\n").encode() + b'{"antall":0}\n')


def test_the_example_in_the_format_document_reads() -> None:
    document = (Path(__file__).resolve().parents[2] / "docs" / "population-register.md").read_text(encoding="utf-8")
    example = document.split("```")[1].strip() + "\n"
    header, persons = read_all(example.encode())
    assert header.year == 2025
    [only] = persons
    assert [entry.type for entry in only.numbers] == [NumberType.DNR, NumberType.FNR]
    assert only.municipality_on(D(2025, 12, 31)) == "1103"
    assert all(fnr.parse(entry.number).synthetic for entry in only.numbers)
