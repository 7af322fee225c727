"""Reading an ``iplos-folkeregister/1`` extract: the header now, the persons lazily, the trailer's count at the end.

Every rule of docs/population-register.md is checked here, in order, and the first broken one raises
``ExtractInvalid`` naming the line and the rule: never a value, since the values are identity numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, NoReturn, TypeVar

from shared import fnr, strict_json
from shared.population._format import (
    EXTRACT_FORMAT,
    FIRST_BIRTH_YEAR,
    HEADER_KEYS,
    MAX_LINE_BYTES,
    MAX_NUMBERS,
    MAX_RESIDENCES,
    NUMBER_KEYS,
    PERSON_KEYS,
    RESIDENCE_KEYS,
    TRAILER_KEYS,
    ExtractInvalid,
)
from shared.population.model import ExtractHeader, IdentityEntry, NumberType, RegisterPerson, Residence, Sex

__all__ = [
    "bounded_lines",
    "fail",
    "list_of",
    "one_in_use",
    "person_facts",
    "read_extract",
    "read_header",
    "read_lines",
    "validity",
]


def bounded_lines(source: BinaryIO) -> Iterator[bytes]:
    """``source``'s lines, none read longer than the format allows (a longer one comes as its first
    ``MAX_LINE_BYTES + 1`` bytes, which the reader refuses): what to read an upload with, whose lines an attacker
    chose."""
    return iter(lambda: source.readline(MAX_LINE_BYTES + 1), b"")


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MUNICIPALITY = re.compile(r"[0-9]{4}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEXES = {"M": Sex.MALE, "K": Sex.FEMALE}


def fail(line: int, rule: str) -> NoReturn:
    raise ExtractInvalid(f"extract line {line}: {rule}")


def _object(raw: bytes, line: int) -> dict[str, Any]:
    # The length first: a reader that bounds its reads (bounded_lines) hands over the first MAX_LINE_BYTES + 1 bytes
    # of a longer line, without its newline.
    if len(raw) - raw.endswith(b"\n") > MAX_LINE_BYTES:
        fail(line, f"the line is longer than {MAX_LINE_BYTES} bytes")
    if not raw.endswith(b"\n"):
        fail(line, "the line does not end with a newline (truncated extract?)")
    try:
        value = strict_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # The exception text would quote the line: not chained.
        raise ExtractInvalid(f"extract line {line}: not a valid UTF-8 JSON object") from None
    if not isinstance(value, dict):
        fail(line, "not a JSON object")
    return value


def _date(value: object, line: int, what: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        fail(line, f"{what} must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass  # not raised from here: the exception quotes the text
    fail(line, f"{what} is not a real date")


def _optional_date(value: object, line: int, what: str) -> dt.date | None:
    return None if value is None else _date(value, line, what)


def list_of(value: object, line: int, what: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        fail(line, f"{what} must be a list")
    if len(value) > most:
        fail(line, f"{what} has more than {most} entries")
    return value


def read_header(raw: bytes, format_name: str = EXTRACT_FORMAT) -> ExtractHeader:
    """The header line of an extract (or, with its format's name, of the registry's part of one)."""
    obj = _object(raw, 1)
    if obj.get("format") != format_name:
        fail(1, f"not an {format_name} stream (unknown or missing format)")
    if obj.keys() != HEADER_KEYS:
        fail(1, "the header has unknown or missing keys")
    extract_id, municipality, year = obj["uttrekksId"], obj["kommunenummer"], obj["aar"]
    if not isinstance(extract_id, str) or not _UUID.fullmatch(extract_id):
        fail(1, "uttrekksId must be a UUID in lower case")
    if not isinstance(municipality, str) or not _MUNICIPALITY.fullmatch(municipality):
        fail(1, "kommunenummer must be four digits")
    if type(year) is not int or not 2000 <= year <= 2100:
        fail(1, "aar must be a year within 2000-2100")
    created = _date(obj["dannet"], 1, "dannet")
    if created.year <= year:
        # An extract of a year is made once the year is over: its histories run to 31 December.
        fail(1, "dannet must lie after the year the extract covers")
    return ExtractHeader(extract_id, municipality, year, created)


def _numbers(value: object, line: int) -> tuple[IdentityEntry, ...]:
    items = list_of(value, line, "identifikasjonsnummer", MAX_NUMBERS)
    if not items:
        fail(line, "identifikasjonsnummer must hold at least one number")
    entries = []
    for item in items:
        if not isinstance(item, dict) or item.keys() != NUMBER_KEYS:
            fail(line, "an identifikasjonsnummer entry must have exactly nummer, type, gyldigFra and gyldigTil")
        number, kind = item["nummer"], item["type"]
        if not isinstance(number, str):
            fail(line, "nummer must be a string")
        try:
            parsed = fnr.parse(number)
        except fnr.InvalidIdentityNumber as error:
            raise ExtractInvalid(f"extract line {line}: nummer is not a valid identity number ({error.rule})") from None
        if kind not in ("FNR", "DNR"):
            fail(line, "type must be FNR or DNR")
        if (kind == "DNR") != (parsed.kind is fnr.FnrKind.D_NUMBER) or parsed.kind in (
            fnr.FnrKind.H_NUMBER,
            fnr.FnrKind.FH_NUMBER,
        ):
            fail(line, "type does not match the number (a D-number is DNR, a fødselsnummer FNR; no H- or FH-number)")
        valid_from, valid_to = validity(item, line)
        entries.append(IdentityEntry(number, NumberType(kind), valid_from, valid_to))
    one_in_use([entry.valid_to for entry in entries], [entry.number for entry in entries], line)
    return tuple(entries)


def validity(item: dict[str, Any], line: int) -> tuple[dt.date | None, dt.date | None]:
    """An identity entry's ``gyldigFra`` and ``gyldigTil``, in order."""
    valid_from = _optional_date(item["gyldigFra"], line, "gyldigFra")
    valid_to = _optional_date(item["gyldigTil"], line, "gyldigTil")
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        fail(line, "gyldigTil lies before gyldigFra")
    return valid_from, valid_to


def one_in_use(ends: list[dt.date | None], keys: list[str], line: int) -> None:
    """Exactly one of a person's numbers is in use, and none is listed twice."""
    if sum(end is None for end in ends) != 1:
        fail(line, "exactly one identity number must be in use (gyldigTil null)")
    if len(set(keys)) != len(keys):
        fail(line, "the same identity number is listed twice")


def _residence(value: object, line: int) -> tuple[Residence, ...]:
    items = list_of(value, line, "bosted", MAX_RESIDENCES)
    if not items:
        fail(line, "bosted must hold at least one period")
    periods: list[Residence] = []
    for item in items:
        if not isinstance(item, dict) or item.keys() != RESIDENCE_KEYS:
            fail(line, "a bosted entry must have exactly kommunenummer, fra and til")
        municipality = item["kommunenummer"]
        if not isinstance(municipality, str) or not _MUNICIPALITY.fullmatch(municipality):
            fail(line, "kommunenummer must be four digits")
        start = _date(item["fra"], line, "fra")
        end = _optional_date(item["til"], line, "til")
        if end is not None and end < start:
            fail(line, "til lies before fra")
        if periods:
            previous = periods[-1].end
            if previous is None or start <= previous:
                fail(line, "bosted periods must follow one another without overlapping, oldest first")
        periods.append(Residence(municipality, start, end))
    return tuple(periods)


def _person(obj: dict[str, Any], line: int, header: ExtractHeader) -> RegisterPerson:
    if obj.keys() != PERSON_KEYS:
        fail(line, "the person has unknown or missing keys")
    numbers = _numbers(obj["identifikasjonsnummer"], line)
    return RegisterPerson(numbers, *person_facts(obj, line, header))


def person_facts(
    obj: dict[str, Any], line: int, header: ExtractHeader
) -> tuple[Sex | None, int | None, tuple[Residence, ...], dt.date | None]:
    """A person line's sex, birth year, residence history and date of death, every rule checked."""
    year = header.year
    sex_text, birth_year = obj["kjoenn"], obj["foedselsaar"]
    if sex_text is not None and (type(sex_text) is not str or sex_text not in _SEXES):
        fail(line, "kjoenn must be M, K or null")
    if birth_year is not None and (type(birth_year) is not int or not FIRST_BIRTH_YEAR <= birth_year <= year):
        fail(line, f"foedselsaar must be a year within {FIRST_BIRTH_YEAR} and the extract's year")
    residence = _residence(obj["bosted"], line)
    death = _optional_date(obj["doedsdato"], line, "doedsdato")
    if death is not None and any(p.end is None or p.end > death for p in residence):
        fail(line, "a dead person's bosted periods must end on or before doedsdato")
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if not any(p.municipality == header.municipality and p.overlaps(first, last) for p in residence):
        fail(line, "the person has no bosted period in the extract's municipality and year")
    return None if sex_text is None else _SEXES[sex_text], birth_year, residence, death


def read_extract(lines: Iterable[bytes]) -> tuple[ExtractHeader, Iterator[RegisterPerson]]:
    """Read an extract: its header now, its persons lazily. ``lines`` yields lines with their LF (a file opened in
    binary mode). The iterator raises ``ExtractInvalid`` at the first broken line, and at the end if the trailer
    is missing, is not last, or counts another number of persons."""
    return read_lines(lines, EXTRACT_FORMAT, _person)


_Person = TypeVar("_Person")


def read_lines(
    lines: Iterable[bytes], format_name: str, person: Callable[[dict[str, Any], int, ExtractHeader], _Person]
) -> tuple[ExtractHeader, Iterator[_Person]]:
    """The header, then each person line read by ``person`` (its object, line number and the header), then the
    trailer: the frame the extract and the registry's part of it share."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise ExtractInvalid("extract line 1: the extract is empty")
    header = read_header(first, format_name)

    def persons() -> Iterator[_Person]:
        seen = 0
        for line, raw in enumerate(iterator, start=2):
            obj = _object(raw, line)
            if obj.keys() == TRAILER_KEYS:
                count = obj["antall"]
                if type(count) is not int or count != seen:
                    fail(line, "the trailer's antall differs from the number of persons")
                if next(iterator, None) is not None:
                    fail(line + 1, "nothing may follow the trailer")
                return
            seen += 1
            yield person(obj, line, header)
        raise ExtractInvalid(f"extract: no trailer after {seen} persons (truncated extract?)")

    return header, persons()
