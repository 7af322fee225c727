"""Decoding: lines out of decrypted chunks (``iter_lines``), then the header now and the records lazily
(``decode_payload``), with the trailer's count checked at the end."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    FUNCTION_VARIABLES,
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
    Refusal,
    Service,
    Sex,
)
from shared.iplos.payload._format import (
    CONTACT_KEYS,
    HEADER_KEYS,
    INT_RANGES,
    MAX_CHARS,
    PAYLOAD_FORMAT,
    RECORD_KEYS,
    TRAILER_KEYS,
    PayloadDecodeError,
)
from shared.iplos.payload._values import (
    DAYS,
    bounded_int,
    bounded_str,
    enum_member,
    fail,
    integer,
    iso_date,
    json_list,
    load_line,
    one_of,
    optional_bool,
    optional_bounded_int,
    optional_bounded_str,
    optional_iso_date,
    optional_str,
    string,
)
from shared.iplos.payload._values import day_or_none as _day
from shared.lines import MAX_LINE_BYTES


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


def _decode_header(line: bytes) -> ExportHeader:
    obj = load_line(line, 1)
    if obj.get("format") != PAYLOAD_FORMAT:
        # Checked before the key set: a future version may well have other keys.
        fail(1, f"not an {PAYLOAD_FORMAT} payload (unknown or missing format version)")
    if obj.keys() != HEADER_KEYS:
        fail(1, "the header has unknown or missing keys")
    contact: Contact | None = None
    if obj["kontaktperson"] is not None:
        item = obj["kontaktperson"]
        if not isinstance(item, dict) or item.keys() != CONTACT_KEYS:
            fail(1, "kontaktperson must be null or an object with exactly navn, telefon and epost")
        contact = Contact(
            navn=string(item["navn"], 1, "kontaktperson.navn"),
            telefon=optional_str(item["telefon"], 1, "kontaktperson.telefon"),
            epost=optional_str(item["epost"], 1, "kontaktperson.epost"),
        )
    return ExportHeader(
        melding_guid=string(obj["meldingGUID"], 1, "meldingGUID"),
        format_version=string(obj["formatVersjon"], 1, "formatVersjon"),
        navn_epj=string(obj["navnEPJ"], 1, "navnEPJ"),
        leverandor=string(obj["leverandor"], 1, "leverandor"),
        versjon_epj=string(obj["versjonEPJ"], 1, "versjonEPJ"),
        rapporteringsaar=integer(obj["rapporteringsaar"], 1, "rapporteringsaar"),
        kommune_nr=string(obj["kommuneNr"], 1, "kommuneNr"),
        bydel_nr=optional_bounded_str(obj["bydelNr"], 1, "bydelNr"),
        kontaktperson=contact,
    )


def _decode_service(item: object, n: int) -> Service:
    tjeneste_id, tjeneste_type, event, application, decision, start, end, hours, org_nr = json_list(
        item, n, "a service", 9
    )
    if hours is not None:
        if not isinstance(hours, int | float) or isinstance(hours, bool):
            fail(n, "timerPerUke must be a number")
        try:
            hours = float(hours)
        except OverflowError:  # an integer beyond the largest double (a 400-digit one): no finite float
            fail(n, "timerPerUke must be a finite number")
        if not math.isfinite(hours):  # 1e400 parses as infinity
            fail(n, "timerPerUke must be a finite number")
    return Service(
        tjeneste_id=bounded_str(tjeneste_id, n, "tjenesteID"),
        tjeneste_type=bounded_int(tjeneste_type, n, "tjenesteType"),
        decision_date=optional_iso_date(decision, n, "vedtaksdato"),
        start_date=iso_date(start, n, "startdato"),
        end_date=optional_iso_date(end, n, "sluttdato"),
        hours_per_week=hours,
        org_nr=optional_bounded_str(org_nr, n, "orgNr"),
        application_date=optional_iso_date(application, n, "soknadsdato"),
        event_type=one_of(EVENT_TYPES, event, n, "hendelse"),
    )


def _decode_background(item: object, n: int) -> PersonBackground:
    housing, household, unpaid_help, communication, death, doctor, dentist, plan = json_list(item, n, "b", 8)
    return PersonBackground(
        housing=optional_bounded_int(housing, n, "bolig"),
        household=optional_bounded_int(household, n, "husstand"),
        unpaid_help=optional_bool(unpaid_help, n, "privatHjelp"),
        assisted_communication=optional_bool(communication, n, "tilrettelagtKommunikasjon"),
        death_date=optional_iso_date(death, n, "dodsdato"),
        assessed_by_doctor=optional_iso_date(doctor, n, "vurdertAvLege"),
        assessed_by_dentist=optional_iso_date(dentist, n, "vurdertAvTannhelse"),
        individual_plan=optional_bool(plan, n, "individuellPlan"),
    )


def _decode_refusal(item: object, n: int) -> Refusal:
    tjeneste_type, application, decision = json_list(item, n, "a refusal", 3)
    return Refusal(
        bounded_int(tjeneste_type, n, "tjenesteType"),
        optional_iso_date(application, n, "soknadsdato"),
        iso_date(decision, n, "vedtaksdato"),
    )


def _decode_complaint(item: object, n: int) -> Complaint:
    tjeneste_type, complaint_date, outcome = json_list(item, n, "a complaint", 3)
    return Complaint(
        bounded_int(tjeneste_type, n, "tjenesteType"),
        iso_date(complaint_date, n, "klagedato"),
        None if outcome is None else one_of(COMPLAINT_OUTCOMES, outcome, n, "utfall"),
    )


def _decode_coercion(item: object, n: int) -> Coercion:
    vedtak_id, basis, decision, start, end = json_list(item, n, "a coercion decision", 5)
    return Coercion(
        bounded_str(vedtak_id, n, "vedtakID"),
        one_of(COERCION_BASES, basis, n, "hjemmel"),
        iso_date(decision, n, "vedtaksdato"),
        iso_date(start, n, "startdato"),
        optional_iso_date(end, n, "sluttdato"),
    )


def _record_from(obj: dict[str, Any], n: int) -> PayloadRecord:
    """The record a line's object holds, or the ``PayloadDecodeError`` of its first fault.

    Two readers of one rule set: :func:`_quick_record` reads a record that follows every rule, inline and with the
    dates looked up once per payload; on anything it does not expect (a fault, or a valid spelling the encoder
    does not write, such as an integer for timerPerUke) it gives up, and :func:`_checked_record`, the reference
    reader, which checks every value in turn, reads the record again and raises the first fault by name.
    tests/shared/test_iplos_payload.py holds the two to the same answers."""
    record = _quick_record(obj, n)
    return record if record is not None else _checked_record(obj, n)


def _checked_record(obj: dict[str, Any], n: int) -> PayloadRecord:
    if obj.keys() != RECORD_KEYS:
        fail(n, "the record has unknown or missing keys")
    scores = []
    for item in json_list(obj["f"], n, "f"):
        variable, score, date = json_list(item, n, "a function score", 3)
        scores.append(
            FunctionScore(
                bounded_str(variable, n, "variabel"), bounded_int(score, n, "skaar"), iso_date(date, n, "date")
            )
        )
    diagnoses = []
    for item in json_list(obj["d"], n, "d"):
        system, code = json_list(item, n, "a diagnosis", 2)
        diagnoses.append(Diagnosis(enum_member(CodeSystem, system, n, "code system"), bounded_str(code, n, "kode")))
    return PayloadRecord(
        ref=string(obj["ref"], n, "ref"),
        birth_year=optional_bounded_int(obj["fa"], n, "fa"),
        sex=None if obj["k"] is None else enum_member(Sex, obj["k"], n, "k"),
        fid_type=enum_member(FidType, obj["ft"], n, "ft"),
        function_scores=tuple(scores),
        diagnoses=tuple(diagnoses),
        services=tuple(_decode_service(item, n) for item in json_list(obj["t"], n, "t")),
        background=_decode_background(obj["b"], n),
        refusals=tuple(_decode_refusal(item, n) for item in json_list(obj["a"], n, "a")),
        complaints=tuple(_decode_complaint(item, n) for item in json_list(obj["kl"], n, "kl")),
        coercion=tuple(_decode_coercion(item, n) for item in json_list(obj["tv"], n, "tv")),
    )


# The bounds, as the quick reader compares them (the same tables the reference reader reads).
_VARIABLE_CHARS = MAX_CHARS["variabel"]
_CODE_CHARS = MAX_CHARS["kode"]
_SERVICE_ID_CHARS = MAX_CHARS["tjenesteID"]
_ORG_NR_CHARS = MAX_CHARS["orgNr"]
_SCORE_LOW, _SCORE_HIGH = INT_RANGES["skaar"]
_TYPE_LOW, _TYPE_HIGH = INT_RANGES["tjenesteType"]
_BIRTH_LOW, _BIRTH_HIGH = INT_RANGES["fa"]
_HOUSING_LOW, _HOUSING_HIGH = INT_RANGES["bolig"]
_HOUSEHOLD_LOW, _HOUSEHOLD_HIGH = INT_RANGES["husstand"]
# One string object per known variable name, not one per score: a batch of records waiting for the database holds
# tens of thousands of scores, and every one's name would be a copy of one of seventeen.
_VARIABLES: dict[str, str] = {name: name for name in FUNCTION_VARIABLES}
_SEXES: dict[object, Sex] = {member.value: member for member in Sex}
_FID_TYPES: dict[object, FidType] = {member.value: member for member in FidType}
_CODE_SYSTEMS: dict[object, CodeSystem] = {member.value: member for member in CodeSystem}


def _quick_record(obj: dict[str, Any], n: int) -> PayloadRecord | None:
    """The record, if every value is as the encoder writes it (see :func:`_record_from`); otherwise None.

    ``type(x) is int`` and ``type(x) is str`` are exact: JSON gives no subclasses, and a bool is not an int here.
    The rare lists (refusals, complaints, coercion decisions) go through the reference reader's item readers,
    which raise their fault by name; they come last in the reference reader's order too, so the first fault is
    the same."""
    if obj.keys() != RECORD_KEYS:
        return None
    days = DAYS
    items = obj["f"]
    if type(items) is not list:
        return None
    scores = []
    for item in items:
        if type(item) is not list or len(item) != 3:
            return None
        variable, score, date = item
        if (
            type(variable) is not str
            or len(variable) > _VARIABLE_CHARS
            or type(score) is not int
            or not _SCORE_LOW <= score <= _SCORE_HIGH
        ):
            return None
        day = days.get(date) if type(date) is str else None
        if day is None and (day := _day(date)) is None:
            return None
        scores.append(FunctionScore(_VARIABLES.get(variable, variable), score, day))
    items = obj["d"]
    if type(items) is not list:
        return None
    diagnoses = []
    for item in items:
        if type(item) is not list or len(item) != 2:
            return None
        system, code = item
        kind = _CODE_SYSTEMS.get(system) if type(system) is str else None
        if kind is None or type(code) is not str or len(code) > _CODE_CHARS:
            return None
        diagnoses.append(Diagnosis(kind, code))
    ref, birth_year, sex, fid_type = obj["ref"], obj["fa"], obj["k"], obj["ft"]
    if type(ref) is not str:
        return None
    if birth_year is not None and (type(birth_year) is not int or not _BIRTH_LOW <= birth_year <= _BIRTH_HIGH):
        return None
    if sex is not None and (sex := _SEXES.get(sex) if type(sex) is str else None) is None:
        return None
    if (fid_type := _FID_TYPES.get(fid_type) if type(fid_type) is str else None) is None:
        return None
    items = obj["t"]
    if type(items) is not list:
        return None
    services = []
    for item in items:
        if type(item) is not list or len(item) != 9:
            return None
        service = _quick_service(item)
        if service is None:
            return None
        services.append(service)
    background = _quick_background(obj["b"])
    if background is None:
        return None
    refusals, complaints, coercion = obj["a"], obj["kl"], obj["tv"]
    if type(refusals) is not list or type(complaints) is not list or type(coercion) is not list:
        return None
    return PayloadRecord(
        ref,
        birth_year,
        sex,
        fid_type,
        tuple(scores),
        tuple(diagnoses),
        tuple(services),
        background,
        tuple(_decode_refusal(item, n) for item in refusals) if refusals else (),
        tuple(_decode_complaint(item, n) for item in complaints) if complaints else (),
        tuple(_decode_coercion(item, n) for item in coercion) if coercion else (),
    )


def _quick_service(item: list[Any]) -> Service | None:
    tjeneste_id, tjeneste_type, event, application, decision, start, end, hours, org_nr = item
    if (
        type(tjeneste_id) is not str
        or len(tjeneste_id) > _SERVICE_ID_CHARS
        or type(tjeneste_type) is not int
        or not _TYPE_LOW <= tjeneste_type <= _TYPE_HIGH
        or type(event) is not str
        or event not in EVENT_TYPES
    ):
        return None
    # The encoder writes hours as a float; an integer is valid too, and left to the reference reader.
    if hours is not None and (type(hours) is not float or not math.isfinite(hours)):
        return None
    if org_nr is not None and (type(org_nr) is not str or len(org_nr) > _ORG_NR_CHARS):
        return None
    days = DAYS
    start_day = days.get(start) if type(start) is str else None
    if start_day is None and (start_day := _day(start)) is None:
        return None
    decision_day = application_day = end_day = None
    if decision is not None and (decision_day := _day(decision)) is None:
        return None
    if application is not None and (application_day := _day(application)) is None:
        return None
    if end is not None and (end_day := _day(end)) is None:
        return None
    return Service(tjeneste_id, tjeneste_type, decision_day, start_day, end_day, hours, org_nr, application_day, event)


def _quick_background(item: object) -> PersonBackground | None:
    if type(item) is not list or len(item) != 8:
        return None
    housing, household, unpaid_help, communication, death, doctor, dentist, plan = item
    if housing is not None and (type(housing) is not int or not _HOUSING_LOW <= housing <= _HOUSING_HIGH):
        return None
    if household is not None and (type(household) is not int or not _HOUSEHOLD_LOW <= household <= _HOUSEHOLD_HIGH):
        return None
    for flag in (unpaid_help, communication, plan):
        if flag is not None and type(flag) is not bool:
            return None
    death_day = doctor_day = dentist_day = None
    if death is not None and (death_day := _day(death)) is None:
        return None
    if doctor is not None and (doctor_day := _day(doctor)) is None:
        return None
    if dentist is not None and (dentist_day := _day(dentist)) is None:
        return None
    return PersonBackground(housing, household, unpaid_help, communication, death_day, doctor_day, dentist_day, plan)


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
            obj = load_line(line, line_number)
            if obj.keys() == TRAILER_KEYS:
                count = integer(obj["antall"], line_number, "antall")
                if count != seen:
                    fail(line_number, f"the trailer counts {count} records, the payload has {seen}")
                if next(iterator, None) is not None:
                    fail(line_number + 1, "nothing may follow the trailer")
                return
            seen += 1
            yield _record_from(obj, line_number)
        raise PayloadDecodeError(f"payload: no trailer after {seen} records (truncated payload?)")

    return header, records()
