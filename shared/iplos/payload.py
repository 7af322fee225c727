"""The compact, versioned encoding of ``PayloadRecord`` that travels inside the payload envelope.

The gateway parses and validates the XML once; the registry decodes this instead of parsing XML again.

Format ``iplos-payload/1``: JSON Lines, UTF-8, one JSON object per line, each line ending in ``\\n``.

* Line 1, the header::

    {"format":"iplos-payload/1","formatVersjon":"1.0","kommuneNr":"0301",
     "leverandor":"Visma","meldingGUID":"...","navnEPJ":"Profil","rapporteringsaar":2025,"versjonEPJ":"2024.3"}

* The last line, the trailer ``{"antall":1234}``: the number of record lines before it. It comes last because
  the gateway writes the payload while it reads the XML once and knows the count only at the end. A decoder
  refuses a payload without a trailer, with a wrong count, or with anything after the trailer (a truncated
  payload cannot pass for a complete one).

* Then one line per record, keys short because they repeat millions of times::

    {"d":[["ICPC-2","T90"]],"f":[["sosialDeltakelse",2,"2025-03-01"],...],"fa":1941,"ft":"FNR",
     "k":"K","ref":"...","t":[["100001-01",15,"2025-01-02","2025-01-10",null,3.5,"974760673"],...]}

  ``ref`` record reference, ``fa`` birth year (or null), ``k`` sex ``M``/``K`` (or null), ``ft`` identity
  number type, ``f`` function scores as [variable, score, date], ``d`` diagnoses as [code system, code],
  ``t`` services as [tjenesteID, tjenesteType, vedtaksdato, startdato, sluttdato, timerPerUke, orgNr]
  (nulls where absent).

Canonical: sorted keys, no whitespace, dates ``YYYY-MM-DD``, hours as JSON numbers (floats). Decoding is
strict: an unknown or missing key, a wrong type, a malformed date, NaN/Infinity, a duplicate key or another
format version is a ``PayloadDecodeError``, whose message says which line and which rule, never the content.
A later format gets a new version string; this decoder refuses it rather than guess.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

from shared.errors import IplosError
from shared.iplos.model import (
    CodeSystem,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PayloadRecord,
    PersonRecord,
    Service,
    Sex,
)

__all__ = [
    "MAX_LINE_BYTES",
    "PAYLOAD_FORMAT",
    "PayloadDecodeError",
    "decode_payload",
    "encode_header",
    "encode_record",
    "encode_trailer",
    "iter_lines",
    "to_payload",
]

PAYLOAD_FORMAT = "iplos-payload/1"

# A record line is a few kilobytes; anything near this limit is an attack or a bug, not a person.
MAX_LINE_BYTES = 1 << 20

_TRAILER_KEYS = frozenset({"antall"})
_HEADER_KEYS = frozenset(
    {
        "format",
        "formatVersjon",
        "kommuneNr",
        "leverandor",
        "meldingGUID",
        "navnEPJ",
        "rapporteringsaar",
        "versjonEPJ",
    }
)
_RECORD_KEYS = frozenset({"d", "f", "fa", "ft", "k", "ref", "t"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_E = TypeVar("_E", bound=StrEnum)


class PayloadDecodeError(IplosError, ValueError):
    """The payload is not a valid ``iplos-payload/1`` stream. The message names the line and the rule,
    never content from the payload."""


# ------------------------------------------------------------------------------------------- encoding


def _dumps(value: object) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON, and a decoder in another language would choke.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8") + b"\n"


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def encode_header(header: ExportHeader) -> bytes:
    """The header line (with its ``\\n``)."""
    return _dumps(
        {
            "format": PAYLOAD_FORMAT,
            "formatVersjon": header.format_version,
            "kommuneNr": header.kommune_nr,
            "leverandor": header.leverandor,
            "meldingGUID": header.melding_guid,
            "navnEPJ": header.navn_epj,
            "rapporteringsaar": header.rapporteringsaar,
            "versjonEPJ": header.versjon_epj,
        }
    )


def encode_trailer(record_count: int) -> bytes:
    """The trailer line: how many record lines precede it."""
    if record_count < 0:
        raise ValueError("record_count must not be negative")
    return _dumps({"antall": record_count})


def encode_record(record: PayloadRecord) -> bytes:
    """One record line (with its ``\\n``): sorted keys, compact separators."""
    services = []
    for s in record.services:
        hours = None
        if s.hours_per_week is not None:
            hours = float(s.hours_per_week)
            if not math.isfinite(hours):
                raise ValueError("hours per week must be finite")
        services.append(
            [
                s.tjeneste_id,
                s.tjeneste_type,
                _iso(s.decision_date),
                s.start_date.isoformat(),
                _iso(s.end_date),
                hours,
                s.org_nr,
            ]
        )
    return _dumps(
        {
            "d": [[str(d.system), d.code] for d in record.diagnoses],
            "f": [[f.variable, f.score, f.date.isoformat()] for f in record.function_scores],
            "fa": record.birth_year,
            "ft": str(record.fid_type),
            "k": None if record.sex is None else str(record.sex),
            "ref": record.ref,
            "t": services,
        }
    )


def to_payload(person: PersonRecord, ref: str, birth_year: int | None, sex: Sex | None) -> PayloadRecord:
    """The registry's view of a person: the identity number and ``brukerNr`` dropped, a reference and the
    birth year and sex (derived from the number by the gateway) added."""
    return PayloadRecord(
        ref=ref,
        birth_year=birth_year,
        sex=sex,
        fid_type=person.fid_type,
        function_scores=person.function_scores,
        diagnoses=person.diagnoses,
        services=person.services,
    )


# ------------------------------------------------------------------------------------------- decoding


def iter_lines(chunks: Iterable[bytes], *, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Re-split arbitrary byte chunks (e.g. 64 KiB decrypted chunks) into lines.

    Each line is yielded with its ``\\n``; trailing bytes without one are yielded last as they are (the
    decoder refuses them: a payload always ends with a newline). A line longer than ``max_line`` raises
    ``PayloadDecodeError`` instead of growing a buffer without bound.
    """
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield data[start : end + 1]
            start = end + 1
        pending = data[start:]
        if len(pending) > max_line:
            raise PayloadDecodeError("a payload line exceeds the maximum length")
    if pending:
        yield pending


def _fail(line_number: int, rule: str) -> NoReturn:
    raise PayloadDecodeError(f"payload line {line_number}: {rule}")


def _reject_constant(_name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _load(line: bytes, line_number: int) -> dict[str, Any]:
    if not line.endswith(b"\n"):
        _fail(line_number, "the line does not end with a newline (truncated payload?)")
    if len(line) > MAX_LINE_BYTES:
        _fail(line_number, "the line exceeds the maximum length")
    try:
        value = json.loads(line.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # json's exception keeps the document it failed on: it is not chained.
        raise PayloadDecodeError(f"payload line {line_number}: not a valid UTF-8 JSON object") from None
    if not isinstance(value, dict):
        _fail(line_number, "not a JSON object")
    return value


def _str(value: object, line_number: int, what: str) -> str:
    if not isinstance(value, str):
        _fail(line_number, f"{what} must be a string")
    return value


def _int(value: object, line_number: int, what: str) -> int:
    # bool is an int subclass in Python, not in JSON: true is not a score.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(line_number, f"{what} must be an integer")
    return value


def _optional_int(value: object, line_number: int, what: str) -> int | None:
    return None if value is None else _int(value, line_number, what)


def _date(value: object, line_number: int, what: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        _fail(line_number, f"{what} must be a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(line_number, f"{what} is not a valid date")


def _optional_date(value: object, line_number: int, what: str) -> dt.date | None:
    return None if value is None else _date(value, line_number, what)


def _list(value: object, line_number: int, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        _fail(line_number, f"{what} must be a list" + (f" of {length} items" if length is not None else ""))
    return value


def _decode_header(line: bytes) -> ExportHeader:
    obj = _load(line, 1)
    if obj.get("format") != PAYLOAD_FORMAT:
        # Checked before the key set: a future version may well have other keys.
        _fail(1, f"not an {PAYLOAD_FORMAT} payload (unknown or missing format version)")
    if obj.keys() != _HEADER_KEYS:
        _fail(1, "the header has unknown or missing keys")
    return ExportHeader(
        melding_guid=_str(obj["meldingGUID"], 1, "meldingGUID"),
        format_version=_str(obj["formatVersjon"], 1, "formatVersjon"),
        navn_epj=_str(obj["navnEPJ"], 1, "navnEPJ"),
        leverandor=_str(obj["leverandor"], 1, "leverandor"),
        versjon_epj=_str(obj["versjonEPJ"], 1, "versjonEPJ"),
        rapporteringsaar=_int(obj["rapporteringsaar"], 1, "rapporteringsaar"),
        kommune_nr=_str(obj["kommuneNr"], 1, "kommuneNr"),
    )


def _decode_service(item: object, n: int) -> Service:
    tjeneste_id, tjeneste_type, decision, start, end, hours, org_nr = _list(item, n, "a service", 7)
    if hours is not None:
        if not isinstance(hours, int | float) or isinstance(hours, bool):
            _fail(n, "timerPerUke must be a number")
        hours = float(hours)
    if org_nr is not None:
        org_nr = _str(org_nr, n, "orgNr")
    return Service(
        tjeneste_id=_str(tjeneste_id, n, "tjenesteID"),
        tjeneste_type=_int(tjeneste_type, n, "tjenesteType"),
        decision_date=_optional_date(decision, n, "vedtaksdato"),
        start_date=_date(start, n, "startdato"),
        end_date=_optional_date(end, n, "sluttdato"),
        hours_per_week=hours,
        org_nr=org_nr,
    )


def _enum(kind: type[_E], value: object, n: int, what: str) -> _E:
    try:
        return kind(_str(value, n, what))
    except PayloadDecodeError:
        raise
    except ValueError:
        _fail(n, f"{what} is not one of its allowed values")


def _record_from(obj: dict[str, Any], n: int) -> PayloadRecord:
    if obj.keys() != _RECORD_KEYS:
        _fail(n, "the record has unknown or missing keys")
    scores = []
    for item in _list(obj["f"], n, "f"):
        variable, score, date = _list(item, n, "a function score", 3)
        scores.append(FunctionScore(_str(variable, n, "variable"), _int(score, n, "score"), _date(date, n, "date")))
    diagnoses = []
    for item in _list(obj["d"], n, "d"):
        system, code = _list(item, n, "a diagnosis", 2)
        diagnoses.append(Diagnosis(_enum(CodeSystem, system, n, "code system"), _str(code, n, "code")))
    return PayloadRecord(
        ref=_str(obj["ref"], n, "ref"),
        birth_year=_optional_int(obj["fa"], n, "fa"),
        sex=None if obj["k"] is None else _enum(Sex, obj["k"], n, "k"),
        fid_type=_enum(FidType, obj["ft"], n, "ft"),
        function_scores=tuple(scores),
        diagnoses=tuple(diagnoses),
        services=tuple(_decode_service(item, n) for item in _list(obj["t"], n, "t")),
    )


def decode_payload(lines: Iterable[bytes]) -> tuple[ExportHeader, Iterator[PayloadRecord]]:
    """Decode a payload stream: its header now, the records lazily.

    ``lines`` yields lines (with or without their ``\\n``: a file opened in binary mode, or ``iter_lines`` over
    decrypted chunks). The record iterator raises ``PayloadDecodeError`` on the first bad line, and at the
    end if the trailer is missing, is not last, or counts a different number of records.
    """
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise PayloadDecodeError("payload line 1: the payload is empty")
    header = _decode_header(first)

    def records() -> Iterator[PayloadRecord]:
        seen = 0
        for line_number, line in enumerate(iterator, start=2):
            obj = _load(line, line_number)
            if obj.keys() == _TRAILER_KEYS:
                count = _int(obj["antall"], line_number, "antall")
                if count != seen:
                    _fail(line_number, f"the trailer counts {count} records, the payload has {seen}")
                if next(iterator, None) is not None:
                    _fail(line_number + 1, "nothing may follow the trailer")
                return
            seen += 1
            yield _record_from(obj, line_number)
        raise PayloadDecodeError(f"payload: no trailer after {seen} records (truncated payload?)")

    return header, records()
