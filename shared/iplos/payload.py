"""The compact, versioned encoding of ``PayloadRecord`` that travels inside the payload envelope.

The gateway parses and validates the XML once; the registry decodes this instead of parsing XML again.

Format ``iplos-payload/2``: JSON Lines, UTF-8, one JSON object per line, each line ending in ``\\n``.
(``/2`` carries every variable of export format 1.1; ``/1`` lacked the background, refusals, complaints,
coercion, application dates and event types, and is no longer read.)

* Line 1, the header::

    {"bydelNr":"030104","format":"iplos-payload/2","formatVersjon":"1.1",
     "kommuneNr":"0301","kontaktperson":{"epost":"...","navn":"...","telefon":"..."},"leverandor":"Visma",
     "meldingGUID":"...","navnEPJ":"Profil","rapporteringsaar":2025,"versjonEPJ":"2024.3"}

  ``bydelNr`` and ``kontaktperson`` may be null; the contact's ``telefon`` and ``epost`` too. The contact is the
  municipality's employee for this export, not a service recipient.

* The last line, the trailer ``{"antall":1234}``: the number of record lines before it. It comes last because
  the gateway writes the payload while it reads the XML once and knows the count only at the end. A decoder
  refuses a payload without a trailer, with a wrong count, or with anything after the trailer (a truncated
  payload cannot pass for a complete one).

* Then one line per record, keys short because they repeat millions of times::

    {"a":[[21,"2025-02-01","2025-03-01"]],"b":[2,1,true,false,null,"2025-04-02",null,false],
     "d":[["ICPC-2","T90"]],"f":[["sosialDeltakelse",2,"2025-03-01"],...],"fa":1941,"ft":"FNR","k":"K",
     "kl":[[21,"2025-03-20","ikke-medhold"]],"ref":"...",
     "t":[["100001-01",15,"N","2024-12-01","2024-12-20","2025-01-02",null,3.5,"974760673"],...],"tv":[]}

  ``ref`` record reference, ``fa`` birth year (or null), ``k`` sex ``M``/``K`` (or null), ``ft`` identity
  number type, ``b`` the background as [bolig, husstand, privatHjelp, tilrettelagtKommunikasjon, dodsdato,
  vurdertAvLege, vurdertAvTannhelse, individuellPlan] (always eight items, nulls where absent), ``f`` function
  scores as [variable, score, date], ``d`` diagnoses as [code system, code], ``t`` services as [tjenesteID,
  tjenesteType, hendelse, soknadsdato, vedtaksdato, startdato, sluttdato, timerPerUke, orgNr], ``a`` refusals
  as [tjenesteType, soknadsdato, vedtaksdato], ``kl`` complaints as [tjenesteType, klagedato, utfall], ``tv``
  coercion decisions as [vedtakID, hjemmel, vedtaksdato, startdato, sluttdato] (nulls where absent; every key is
  always present, lists may be empty). ``hendelse``, ``hjemmel`` and ``utfall`` must be in their code lists
  (model.EVENT_TYPES, COERCION_BASES, COMPLAINT_OUTCOMES), as the export's schema already requires.

Canonical: sorted keys, no whitespace, dates ``YYYY-MM-DD``, hours as JSON numbers (floats). Decoding is
strict: an unknown or missing key, a wrong type, a malformed date, NaN/Infinity (also 1e400 hours), an integer
beyond 2^53 - 1, an unpaired surrogate or U+0000 in a string, a stored value outside its bound (``MAX_CHARS``,
``INT_RANGES``: what the registry's columns hold, the export schema's limits where it has them), a line longer
than ``MAX_LINE_BYTES`` (its newline not counted), a duplicate key or another format version is a
``PayloadDecodeError``, whose message says which line and which rule, never the content. The normative
definition is docs/envelope-v1.md, section 6.4 (vectors: tests/vectors/payloads.json).
A later format gets a new version string; this decoder refuses it rather than guess.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NoReturn, TypeVar, cast

from shared.errors import IplosError
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    CodeSystem,
    Coercion,
    Complaint,
    Contact,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PayloadRecord,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
    Sex,
)
from shared.lines import MAX_LINE_BYTES

__all__ = [
    "INT_RANGES",
    "MAX_CHARS",
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

PAYLOAD_FORMAT = "iplos-payload/2"

# A record line is a few kilobytes; anything near MAX_LINE_BYTES (shared.lines: 1 MiB, not counting the newline,
# the envelope's own line limit) is an attack or a bug, not a person.

#: The bounds of docs/envelope-v1.md 6.4 ("Bounds"), by the spec's (the export's) name of the value: what the
#: registry's columns hold, and where the export's schema (iplos-export-1.xsd) limits a value, its limit. Every
#: export the gateway has validated is within them, so only a forged or broken payload is refused; without them
#: such a payload decoded fine and then failed in PostgreSQL (HTTP 500) where SQLite stored it.
#: Strings: at most this many characters (code points, as PostgreSQL's varchar counts them; not bytes).
MAX_CHARS: Final[Mapping[str, int]] = MappingProxyType(
    {"bydelNr": 6, "variabel": 64, "kode": 10, "tjenesteID": 40, "orgNr": 9, "vedtakID": 40}
)
#: Integers: from the first to the second, inclusive.
INT_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"fa": (1, 9999), "bolig": (0, 99), "husstand": (0, 99), "skaar": (0, 9), "tjenesteType": (0, 999)}
)

_TRAILER_KEYS = frozenset({"antall"})
_HEADER_KEYS = frozenset(
    {
        "bydelNr",
        "format",
        "formatVersjon",
        "kommuneNr",
        "kontaktperson",
        "leverandor",
        "meldingGUID",
        "navnEPJ",
        "rapporteringsaar",
        "versjonEPJ",
    }
)
_RECORD_KEYS = frozenset({"a", "b", "d", "f", "fa", "ft", "k", "kl", "ref", "t", "tv"})
_CONTACT_KEYS = frozenset({"navn", "telefon", "epost"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_E = TypeVar("_E", bound=StrEnum)


class PayloadDecodeError(IplosError, ValueError):
    """The payload is not a valid ``iplos-payload/2`` stream. The message names the line and the rule,
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
    contact = header.kontaktperson
    return _dumps(
        {
            "bydelNr": header.bydel_nr,
            "format": PAYLOAD_FORMAT,
            "formatVersjon": header.format_version,
            "kommuneNr": header.kommune_nr,
            "kontaktperson": None
            if contact is None
            else {"epost": contact.epost, "navn": contact.navn, "telefon": contact.telefon},
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


def _code(value: str, allowed: dict[str, str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} is not in its code list")
    return value


def encode_record(record: PayloadRecord) -> bytes:
    """One record line (with its ``\\n``): sorted keys, compact separators. Raises ``ValueError`` for what the
    decoder would refuse (non-finite hours, a code outside its list)."""
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
                _code(s.event_type, EVENT_TYPES, "hendelse"),
                _iso(s.application_date),
                _iso(s.decision_date),
                s.start_date.isoformat(),
                _iso(s.end_date),
                hours,
                s.org_nr,
            ]
        )
    b = record.background
    return _dumps(
        {
            "a": [[r.tjeneste_type, _iso(r.application_date), r.decision_date.isoformat()] for r in record.refusals],
            "b": [
                b.housing,
                b.household,
                b.unpaid_help,
                b.assisted_communication,
                _iso(b.death_date),
                _iso(b.assessed_by_doctor),
                _iso(b.assessed_by_dentist),
                b.individual_plan,
            ],
            "d": [[str(d.system), d.code] for d in record.diagnoses],
            "f": [[f.variable, f.score, f.date.isoformat()] for f in record.function_scores],
            "fa": record.birth_year,
            "ft": str(record.fid_type),
            "k": None if record.sex is None else str(record.sex),
            "kl": [
                [
                    c.tjeneste_type,
                    c.complaint_date.isoformat(),
                    None if c.outcome is None else _code(c.outcome, COMPLAINT_OUTCOMES, "utfall"),
                ]
                for c in record.complaints
            ],
            "ref": record.ref,
            "t": services,
            "tv": [
                [
                    c.vedtak_id,
                    _code(c.legal_basis, COERCION_BASES, "hjemmel"),
                    c.decision_date.isoformat(),
                    c.start_date.isoformat(),
                    _iso(c.end_date),
                ]
                for c in record.coercion
            ],
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
        background=person.background,
        refusals=person.refusals,
        complaints=person.complaints,
        coercion=person.coercion,
    )


# ------------------------------------------------------------------------------------------- decoding


def iter_lines(chunks: Iterable[bytes], *, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Re-split arbitrary byte chunks (e.g. 64 KiB decrypted chunks) into lines.

    Each line is yielded with its ``\\n``; trailing bytes without one are yielded last as they are (the
    decoder refuses them: a payload always ends with a newline). A line longer than ``max_line`` raises
    ``PayloadDecodeError`` instead of growing a buffer without bound (the newline is not counted: a line of
    exactly ``max_line`` bytes and its newline is yielded).
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
    if len(line) - 1 > MAX_LINE_BYTES:  # the limit does not count the newline (spec 6.1)
        _fail(line_number, "the line exceeds the maximum length")
    try:
        value = json.loads(line.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # json's exception keeps the document it failed on: it is not chained.
        raise PayloadDecodeError(f"payload line {line_number}: not a valid UTF-8 JSON object") from None
    if not isinstance(value, dict):
        _fail(line_number, "not a JSON object")
    if not _storable_text_only(value):
        _fail(line_number, "a string holds an unpaired surrogate (\\ud800-\\udfff) or U+0000: not storable text")
    return value


# JSON's \u escapes can spell an unpaired surrogate, which UTF-8 cannot, and U+0000, which PostgreSQL's text
# cannot hold (XML cannot carry either, so no export has one).
_NOT_STORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _storable_text_only(value: object) -> bool:
    """False if a key or string holds an unpaired surrogate or U+0000."""
    if isinstance(value, str):
        return _NOT_STORABLE.search(value) is None
    if isinstance(value, dict):
        return all(_storable_text_only(k) and _storable_text_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable_text_only(v) for v in value)
    return True


def _str(value: object, line_number: int, what: str) -> str:
    if not isinstance(value, str):
        _fail(line_number, f"{what} must be a string")
    return value


# Integers another JSON parser reads exactly (I-JSON, RFC 7493): beyond them a second implementation would read
# another number than this one (docs/envelope-v1.md 6.4).
MAX_SAFE_INTEGER = 2**53 - 1


def _int(value: object, line_number: int, what: str) -> int:
    # bool is an int subclass in Python, not in JSON: true is not a score.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(line_number, f"{what} must be an integer")
    if abs(value) > MAX_SAFE_INTEGER:
        _fail(line_number, f"{what} is outside the integers JSON carries exactly")
    return value


def _optional_int(value: object, line_number: int, what: str) -> int | None:
    return None if value is None else _int(value, line_number, what)


def _bounded_int(value: object, line_number: int, what: str) -> int:
    """An integer within its range of ``INT_RANGES`` (``what`` is its spec name)."""
    number = _int(value, line_number, what)
    low, high = INT_RANGES[what]
    if not low <= number <= high:
        _fail(line_number, f"{what} is outside its range, {low} to {high}")
    return number


def _optional_bounded_int(value: object, line_number: int, what: str) -> int | None:
    return None if value is None else _bounded_int(value, line_number, what)


def _bounded_str(value: object, line_number: int, what: str) -> str:
    """A string of at most ``MAX_CHARS[what]`` characters (code points)."""
    text = _str(value, line_number, what)
    if len(text) > MAX_CHARS[what]:
        _fail(line_number, f"{what} is longer than {MAX_CHARS[what]} characters")
    return text


def _optional_bounded_str(value: object, line_number: int, what: str) -> str | None:
    return None if value is None else _bounded_str(value, line_number, what)


def _optional_str(value: object, line_number: int, what: str) -> str | None:
    return None if value is None else _str(value, line_number, what)


def _optional_bool(value: object, line_number: int, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        _fail(line_number, f"{what} must be true, false or null")
    return value


def _in(allowed: dict[str, str], value: object, line_number: int, what: str) -> str:
    if _str(value, line_number, what) not in allowed:
        _fail(line_number, f"{what} is not one of its allowed values")
    return cast(str, value)


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
    contact: Contact | None = None
    if obj["kontaktperson"] is not None:
        item = obj["kontaktperson"]
        if not isinstance(item, dict) or item.keys() != _CONTACT_KEYS:
            _fail(1, "kontaktperson must be null or an object with exactly navn, telefon and epost")
        contact = Contact(
            navn=_str(item["navn"], 1, "kontaktperson.navn"),
            telefon=_optional_str(item["telefon"], 1, "kontaktperson.telefon"),
            epost=_optional_str(item["epost"], 1, "kontaktperson.epost"),
        )
    return ExportHeader(
        melding_guid=_str(obj["meldingGUID"], 1, "meldingGUID"),
        format_version=_str(obj["formatVersjon"], 1, "formatVersjon"),
        navn_epj=_str(obj["navnEPJ"], 1, "navnEPJ"),
        leverandor=_str(obj["leverandor"], 1, "leverandor"),
        versjon_epj=_str(obj["versjonEPJ"], 1, "versjonEPJ"),
        rapporteringsaar=_int(obj["rapporteringsaar"], 1, "rapporteringsaar"),
        kommune_nr=_str(obj["kommuneNr"], 1, "kommuneNr"),
        bydel_nr=_optional_bounded_str(obj["bydelNr"], 1, "bydelNr"),
        kontaktperson=contact,
    )


def _decode_service(item: object, n: int) -> Service:
    tjeneste_id, tjeneste_type, event, application, decision, start, end, hours, org_nr = _list(item, n, "a service", 9)
    if hours is not None:
        if not isinstance(hours, int | float) or isinstance(hours, bool):
            _fail(n, "timerPerUke must be a number")
        try:
            hours = float(hours)
        except OverflowError:  # an integer beyond the largest double (a 400-digit one): no finite float
            _fail(n, "timerPerUke must be a finite number")
        if not math.isfinite(hours):  # 1e400 parses as infinity
            _fail(n, "timerPerUke must be a finite number")
    return Service(
        tjeneste_id=_bounded_str(tjeneste_id, n, "tjenesteID"),
        tjeneste_type=_bounded_int(tjeneste_type, n, "tjenesteType"),
        decision_date=_optional_date(decision, n, "vedtaksdato"),
        start_date=_date(start, n, "startdato"),
        end_date=_optional_date(end, n, "sluttdato"),
        hours_per_week=hours,
        org_nr=_optional_bounded_str(org_nr, n, "orgNr"),
        application_date=_optional_date(application, n, "soknadsdato"),
        event_type=_in(EVENT_TYPES, event, n, "hendelse"),
    )


def _decode_background(item: object, n: int) -> PersonBackground:
    housing, household, unpaid_help, communication, death, doctor, dentist, plan = _list(item, n, "b", 8)
    return PersonBackground(
        housing=_optional_bounded_int(housing, n, "bolig"),
        household=_optional_bounded_int(household, n, "husstand"),
        unpaid_help=_optional_bool(unpaid_help, n, "privatHjelp"),
        assisted_communication=_optional_bool(communication, n, "tilrettelagtKommunikasjon"),
        death_date=_optional_date(death, n, "dodsdato"),
        assessed_by_doctor=_optional_date(doctor, n, "vurdertAvLege"),
        assessed_by_dentist=_optional_date(dentist, n, "vurdertAvTannhelse"),
        individual_plan=_optional_bool(plan, n, "individuellPlan"),
    )


def _decode_refusal(item: object, n: int) -> Refusal:
    tjeneste_type, application, decision = _list(item, n, "a refusal", 3)
    return Refusal(
        _bounded_int(tjeneste_type, n, "tjenesteType"),
        _optional_date(application, n, "soknadsdato"),
        _date(decision, n, "vedtaksdato"),
    )


def _decode_complaint(item: object, n: int) -> Complaint:
    tjeneste_type, complaint_date, outcome = _list(item, n, "a complaint", 3)
    return Complaint(
        _bounded_int(tjeneste_type, n, "tjenesteType"),
        _date(complaint_date, n, "klagedato"),
        None if outcome is None else _in(COMPLAINT_OUTCOMES, outcome, n, "utfall"),
    )


def _decode_coercion(item: object, n: int) -> Coercion:
    vedtak_id, basis, decision, start, end = _list(item, n, "a coercion decision", 5)
    return Coercion(
        _bounded_str(vedtak_id, n, "vedtakID"),
        _in(COERCION_BASES, basis, n, "hjemmel"),
        _date(decision, n, "vedtaksdato"),
        _date(start, n, "startdato"),
        _optional_date(end, n, "sluttdato"),
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
        scores.append(
            FunctionScore(
                _bounded_str(variable, n, "variabel"), _bounded_int(score, n, "skaar"), _date(date, n, "date")
            )
        )
    diagnoses = []
    for item in _list(obj["d"], n, "d"):
        system, code = _list(item, n, "a diagnosis", 2)
        diagnoses.append(Diagnosis(_enum(CodeSystem, system, n, "code system"), _bounded_str(code, n, "kode")))
    return PayloadRecord(
        ref=_str(obj["ref"], n, "ref"),
        birth_year=_optional_bounded_int(obj["fa"], n, "fa"),
        sex=None if obj["k"] is None else _enum(Sex, obj["k"], n, "k"),
        fid_type=_enum(FidType, obj["ft"], n, "ft"),
        function_scores=tuple(scores),
        diagnoses=tuple(diagnoses),
        services=tuple(_decode_service(item, n) for item in _list(obj["t"], n, "t")),
        background=_decode_background(obj["b"], n),
        refusals=tuple(_decode_refusal(item, n) for item in _list(obj["a"], n, "a")),
        complaints=tuple(_decode_complaint(item, n) for item in _list(obj["kl"], n, "kl")),
        coercion=tuple(_decode_coercion(item, n) for item in _list(obj["tv"], n, "tv")),
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
