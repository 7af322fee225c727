"""Reading Brønnøysundregistrene's bulk files of Enhetsregisteret: the CSV (``/lastned/csv``) or the JSON array
(``/lastned``), gzipped as served or not, of main units or of sub-units (the file says which). Streamed: a file of
a million units is read in constant memory, less a few bytes per organisation number to find a repeated one.

Every error is one ``BusinessRegisterInvalid`` with a stable ``code``, naming the record's place (its line in a CSV,
its position in a JSON array) and the column, never a value (a sole proprietorship's name is a person's name).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import re
import zlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

import ijson  # type: ignore[import-untyped]

from shared.business_register._columns import COLUMNS, KIND_COLUMN, KIND_KEYS, REQUIRED
from shared.business_register.model import BusinessUnit, UnitKind
from shared.errors import IplosError
from shared.exact_keys import ExactKeys
from shared.iplos.controls import org_nr_is_valid

__all__ = ["BusinessRegisterInvalid", "read_units"]

if TYPE_CHECKING:
    _Buffered = io.BufferedReader[Any]
else:
    _Buffered = io.BufferedReader
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZIP_MAGIC: Final = b"PK\x03\x04"
#: A field longer than this is refused (the longest names in the register are a few hundred characters).
MAX_FIELD: Final = 4096
_MUNICIPALITY = re.compile(r"\d{4}")
_INDUSTRY = re.compile(r"\d{2}\.\d{1,3}")
_ORG_FORM = re.compile(r"[A-ZÆØÅ]{1,8}")
_NORWEGIAN_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")


class BusinessRegisterInvalid(IplosError, ValueError):
    """The file is not a bulk file of Enhetsregisteret the registry can take. ``code`` is stable; the message names
    the place and the column, never a value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _fail(code: str, message: str) -> NoReturn:
    raise BusinessRegisterInvalid(code, message)


def read_units(source: IO[bytes], kind: UnitKind | None = None) -> tuple[UnitKind, Iterator[BusinessUnit]]:
    """The kind of units in ``source`` and a lazy stream of them. ``kind`` None: told by the file (a CSV's header,
    the first JSON object's keys). The stream raises ``BusinessRegisterInvalid`` at the first bad record, and at
    an organisation number that repeats; reading the kind raises it for a file of no known format. ``source`` is
    the caller's to close: the layers read over it (buffer, gzip, text) are let go of when the stream ends."""
    layers = _Layers()
    try:
        stream = layers.plain(source)
        first = stream.peek(64)[:64].lstrip()
        if first.startswith(b"["):
            found, units = _json_units(stream, kind)
        elif first.startswith(b"{"):
            _fail("format-unknown", "a JSON object, not the bulk file's array of units (download /lastned)")
        else:
            found, units = _csv_units(layers, stream, kind)
    except BaseException:
        layers.release()
        raise
    return found, layers.guard(units)


class _Layers:
    """The wrappers read over the caller's stream, detached (not closed: that would close the caller's stream)
    once the units are read, or reading stops."""

    def __init__(self) -> None:
        self._detach: list[Any] = []
        self._close: list[Any] = []

    def plain(self, source: IO[bytes]) -> _Buffered:
        """``source`` as a buffered stream, ungzipped if it is gzipped."""
        raw: _Buffered = source if hasattr(source, "peek") else self.buffered(source)  # type: ignore[assignment]
        head = raw.peek(4)[:4]
        if head.startswith(_ZIP_MAGIC):
            _fail("format-unknown", "a spreadsheet (xlsx): take the CSV or JSON file (/lastned/csv or /lastned)")
        if head.startswith(_GZIP_MAGIC):
            inner = gzip.GzipFile(fileobj=raw, mode="rb")  # closing it leaves ``raw`` open
            self._close.append(inner)
            return self.buffered(_Ungzipped(inner))
        return raw

    def buffered(self, raw: Any) -> _Buffered:
        wrapper = io.BufferedReader(raw)
        self._detach.append(wrapper)
        return wrapper

    def text(self, stream: _Buffered) -> io.TextIOWrapper:
        wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
        self._detach.append(wrapper)
        return wrapper

    def release(self) -> None:
        for wrapper in reversed(self._detach):
            with contextlib.suppress(ValueError, OSError):
                wrapper.detach()
        for inner in self._close:
            inner.close()
        self._detach.clear()
        self._close.clear()

    def guard(self, units: Iterator[BusinessUnit]) -> Iterator[BusinessUnit]:
        try:
            yield from units
        finally:
            self.release()


class _Ungzipped(io.RawIOBase):
    """A gzip stream whose every failure (cut short, corrupt) is one ``gzip-invalid`` refusal, wherever it is read."""

    def __init__(self, inner: gzip.GzipFile) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._inner.readinto(buffer)
        except (OSError, EOFError, zlib.error):
            _fail("gzip-invalid", "the gzip stream is cut short or corrupt")


# ---------------------------------------------------------------------------------------------- CSV


def _csv_units(layers: _Layers, stream: _Buffered, kind: UnitKind | None) -> tuple[UnitKind, Iterator[BusinessUnit]]:
    delimiter = _delimiter(stream)
    # newline="": the csv module reads the line ends itself (a quoted field may hold one).
    text = layers.text(stream)
    reader = csv.reader(_bounded(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        _fail("empty", "the file is empty")
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        _fail("csv-invalid", f"the header line cannot be read ({type(exc).__name__})")
    names = {name.strip().lower(): i for i, name in enumerate(header)}
    found = kind or _csv_kind(names)
    positions = _positions(names, found)
    return found, _csv_rows(reader, positions, found, len(header))


def _delimiter(stream: _Buffered) -> str:
    """The CSV's delimiter: Brønnøysundregistrene's files use a comma; an older export a semicolon."""
    head = stream.peek(4096)[:4096].split(b"\n", 1)[0]
    return ";" if head.count(b";") > head.count(b",") else ","


def _bounded(text: IO[str]) -> Iterator[str]:
    for line in text:
        if len(line) > 64 * MAX_FIELD:
            _fail("too-long", "a line of the file is longer than any unit's record can be")
        yield line


def _csv_kind(names: Mapping[str, int]) -> UnitKind:
    kinds = [kind for kind, column in KIND_COLUMN.items() if column.lower() in names]
    if len(kinds) != 1:
        _fail(
            "kind-unknown",
            "the header names neither forretningsadresse.kommunenummer (main units) nor "
            "beliggenhetsadresse.kommunenummer (sub-units): not a bulk file of Enhetsregisteret",
        )
    return kinds[0]


def _positions(names: Mapping[str, int], kind: UnitKind) -> dict[str, int | None]:
    positions: dict[str, int | None] = {}
    for field, spellings in COLUMNS.items():
        positions[field] = next((names[s.lower()] for s in spellings[kind] if s.lower() in names), None)
        if positions[field] is None and field in REQUIRED:
            _fail("column-missing", f"the header has no column {spellings[kind][0]} (a {kind} file has it)")
    return positions


def _csv_rows(reader: Any, positions: dict[str, int | None], kind: UnitKind, width: int) -> Iterator[BusinessUnit]:
    seen = ExactKeys()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
            _fail("csv-invalid", f"line {reader.line_num} cannot be read ({type(exc).__name__})")
        if not row:
            continue
        where = f"line {reader.line_num}"
        if len(row) != width:
            _fail("csv-invalid", f"{where} has {len(row)} fields, the header {width}")

        def get(field: str, row: list[str] = row) -> str | None:
            i = positions[field]
            value = row[i].strip() if i is not None else ""
            return value or None

        yield _unit(get, kind, where, seen)


# ---------------------------------------------------------------------------------------------- JSON


def _json_units(stream: _Buffered, kind: UnitKind | None) -> tuple[UnitKind, Iterator[BusinessUnit]]:
    items = ijson.items(stream, "item")
    try:
        first = next(items, None)
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, OSError, EOFError) as exc:
        _fail("json-invalid", f"unit 1 cannot be read ({type(exc).__name__})")
    if first is None:
        _fail("empty", "the file's array holds no unit")
    found = kind or _json_kind(first, 1)
    return found, _json_rows(first, items, found)


def _json_kind(obj: object, position: int) -> UnitKind:
    if not isinstance(obj, dict):
        _fail("json-invalid", f"unit {position} is not an object")
    kinds = [kind for kind, keys in KIND_KEYS.items() if keys & obj.keys()]
    if len(kinds) != 1:
        _fail("kind-unknown", f"unit {position} is neither a main unit nor a sub-unit of Enhetsregisteret")
    return kinds[0]


def _json_rows(first: object, items: Iterator[object], kind: UnitKind) -> Iterator[BusinessUnit]:
    seen = ExactKeys()
    position, obj = 1, first
    while True:
        where = f"unit {position}"
        if not isinstance(obj, dict):
            _fail("json-invalid", f"{where} is not an object")
        other = next(k for k in UnitKind if k is not kind)
        if KIND_KEYS[other] & obj.keys() and not KIND_KEYS[kind] & obj.keys():
            _fail("kind-mixed", f"{where} is a {other} in a file of {kind}s")

        def get(field: str, obj: dict[str, Any] = obj, where: str = where) -> str | None:
            for path in COLUMNS[field][kind]:
                value: Any = obj
                for part in path.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    return value.strip() or None
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    return str(value)
                _fail("json-invalid", f"{where}: {path} is not a text")
            return None

        yield _unit(get, kind, where, seen)
        try:
            obj = next(items)
        except StopIteration:
            return
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, OSError, EOFError) as exc:
            _fail("json-invalid", f"unit {position + 1} cannot be read ({type(exc).__name__})")
        position += 1


# ---------------------------------------------------------------------------------------------- one unit


def _unit(get: Any, kind: UnitKind, where: str, seen: ExactKeys) -> BusinessUnit:
    def column(field: str) -> str:
        return COLUMNS[field][kind][0]

    def text(field: str) -> str | None:
        value: str | None = get(field)
        if value is not None and len(value) > MAX_FIELD:
            _fail("too-long", f"{where}: {column(field)} is longer than {MAX_FIELD} characters")
        return value

    def matching(field: str, pattern: re.Pattern[str], code: str) -> str | None:
        value = text(field)
        if value is not None and not pattern.fullmatch(value):
            _fail(code, f"{where}: {column(field)} is not of the register's form")
        return value

    def date(field: str) -> dt.date | None:
        value = text(field)
        if value is None:
            return None
        try:
            norwegian = _NORWEGIAN_DATE.fullmatch(value)
            if norwegian:  # dd.mm.yyyy, as older files wrote dates
                return dt.date(int(norwegian[3]), int(norwegian[2]), int(norwegian[1]))
            return dt.date.fromisoformat(value)
        except ValueError:
            _fail("date-invalid", f"{where}: {column(field)} is not a date")

    org_nr = text("org_nr")
    if org_nr is None or not org_nr_is_valid(org_nr):
        _fail("org-nr-invalid", f"{where}: {column('org_nr')} is not a valid organisation number")
    if seen.add(int(org_nr).to_bytes(4, "big")) is not None:
        _fail("org-nr-repeated", f"{where}: the organisation number is on an earlier line of the file too")
    parent = text("parent")
    if parent is not None and not org_nr_is_valid(parent):
        _fail("org-nr-invalid", f"{where}: {column('parent')} is not a valid organisation number")
    return BusinessUnit(
        org_nr=org_nr,
        kind=kind,
        name=text("name") or "",
        org_form=matching("org_form", _ORG_FORM, "org-form-invalid"),
        industry=matching("industry", _INDUSTRY, "industry-invalid"),
        municipality=matching("municipality", _MUNICIPALITY, "municipality-invalid"),
        registered_on=date("registered_on"),
        deleted_on=date("deleted_on"),
        parent=parent,
    )
