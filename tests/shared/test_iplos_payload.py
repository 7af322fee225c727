"""Tests for shared.iplos.payload: the JSON Lines encoding of PayloadRecord (``iplos-payload/2``)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iplos_testkit import generate_records
from shared.iplos import (
    FUNCTION_VARIABLES,
    PAYLOAD_FORMAT,
    CodeSystem,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PayloadDecodeError,
    PayloadRecord,
    PersonRecord,
    Service,
    Sex,
    decode_payload,
    encode_header,
    encode_record,
    encode_trailer,
    iter_lines,
    to_payload,
)
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    Coercion,
    Complaint,
    Contact,
    PersonBackground,
    Refusal,
)
from shared.iplos.payload import INT_RANGES, MAX_CHARS, MAX_LINE_BYTES, _values
from shared.iplos.payload._decode import _checked_record, _quick_record, _record_from
from shared.iplos.payload._values import load_line

# Text as XML can carry it: no surrogates (they cannot be encoded as UTF-8 anyway) and no U+0000. The stored
# strings within their bounds (MAX_CHARS, spec 6.4), the others a little past the longest bound.
characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
texts = st.text(characters, max_size=70)


def bounded_text(name: str) -> st.SearchStrategy[str]:
    return st.text(characters, max_size=MAX_CHARS[name])


def bounded_int(name: str) -> st.SearchStrategy[int]:
    low, high = INT_RANGES[name]
    return st.integers(low, high)


dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
hours = st.floats(allow_nan=False, allow_infinity=False)

services = st.builds(
    Service,
    tjeneste_id=bounded_text("tjenesteID"),
    tjeneste_type=bounded_int("tjenesteType"),
    decision_date=st.none() | dates,
    start_date=dates,
    end_date=st.none() | dates,
    hours_per_week=st.none() | hours,
    org_nr=st.none() | bounded_text("orgNr"),
    application_date=st.none() | dates,
    event_type=st.sampled_from(sorted(EVENT_TYPES)),
)
optional_bools = st.none() | st.booleans()
backgrounds = st.builds(
    PersonBackground,
    housing=st.none() | bounded_int("bolig"),
    household=st.none() | bounded_int("husstand"),
    unpaid_help=optional_bools,
    assisted_communication=optional_bools,
    death_date=st.none() | dates,
    assessed_by_doctor=st.none() | dates,
    assessed_by_dentist=st.none() | dates,
    individual_plan=optional_bools,
)
refusals = st.builds(Refusal, bounded_int("tjenesteType"), st.none() | dates, dates)
complaints = st.builds(
    Complaint, bounded_int("tjenesteType"), dates, st.none() | st.sampled_from(sorted(COMPLAINT_OUTCOMES))
)
coercions = st.builds(
    Coercion, bounded_text("vedtakID"), st.sampled_from(sorted(COERCION_BASES)), dates, dates, st.none() | dates
)
records = st.builds(
    PayloadRecord,
    ref=texts,
    birth_year=st.none() | bounded_int("fa"),
    sex=st.none() | st.sampled_from(Sex),
    fid_type=st.sampled_from(FidType),
    function_scores=st.lists(
        st.builds(
            FunctionScore,
            st.sampled_from(FUNCTION_VARIABLES) | bounded_text("variabel"),
            bounded_int("skaar"),
            dates,
        ),
        max_size=17,
    ).map(tuple),
    diagnoses=st.lists(st.builds(Diagnosis, st.sampled_from(CodeSystem), bounded_text("kode")), max_size=4).map(tuple),
    services=st.lists(services, max_size=5).map(tuple),
    background=backgrounds,
    refusals=st.lists(refusals, max_size=2).map(tuple),
    complaints=st.lists(complaints, max_size=2).map(tuple),
    coercion=st.lists(coercions, max_size=2).map(tuple),
)
headers = st.builds(
    ExportHeader,
    melding_guid=texts,
    format_version=texts,
    navn_epj=texts,
    leverandor=texts,
    versjon_epj=texts,
    rapporteringsaar=st.integers(-(2**53 - 1), 2**53 - 1),  # not stored: compared with the signed header's
    kommune_nr=texts,
    bydel_nr=st.none() | bounded_text("bydelNr"),
    kontaktperson=st.none() | st.builds(Contact, texts, st.none() | texts, st.none() | texts),
)

HEADER = ExportHeader(
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "1.1",
    "Profil",
    "Visma",
    "2024.3",
    2025,
    "0301",
    bydel_nr="030104",
    kontaktperson=Contact("Kari Testesen", "+47 01 23 45 67", "kari.testesen@k0301.kommune.example"),
)
RECORD = PayloadRecord(
    ref="SECRET-REF-0001",
    birth_year=1941,
    sex=Sex.FEMALE,
    fid_type=FidType.FNR,
    function_scores=(FunctionScore("syn", 2, dt.date(2025, 3, 1)),),
    diagnoses=(Diagnosis(CodeSystem.ICPC2, "T90"),),
    services=(
        Service("T-1", 15, dt.date(2025, 1, 1), dt.date(2025, 1, 2), None, 3.5, "974760673", dt.date(2024, 12, 1), "M"),
    ),
    background=PersonBackground(2, 1, True, False, None, dt.date(2025, 4, 2), None, False),
    refusals=(Refusal(21, dt.date(2025, 2, 1), dt.date(2025, 3, 1)),),
    complaints=(Complaint(21, dt.date(2025, 3, 20), "ikke-medhold"),),
    coercion=(Coercion("TV-1", "PBRL4A", dt.date(2025, 4, 1), dt.date(2025, 4, 2), None),),
)


def payload(header: ExportHeader, items: Iterable[PayloadRecord]) -> bytes:
    items = list(items)
    return encode_header(header) + b"".join(encode_record(r) for r in items) + encode_trailer(len(items))


def decode_all(data: bytes) -> tuple[ExportHeader, list[PayloadRecord]]:
    header, decoded = decode_payload(iter_lines([data]))
    return header, list(decoded)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# -------------------------------------------------------------------------------------------- round trip


@settings(max_examples=150, deadline=None)
@given(header=headers, items=st.lists(records, max_size=6), cuts=st.lists(st.integers(0, 10**6), max_size=12))
def test_round_trip_through_arbitrary_chunks(header: ExportHeader, items: list[PayloadRecord], cuts: list[int]) -> None:
    data = payload(header, items)
    decoded_header, decoded = decode_payload(iter_lines(split(data, cuts)))
    assert decoded_header == header
    assert list(decoded) == items


@settings(max_examples=100, deadline=None)
@given(record=records)
def test_encoding_is_canonical(record: PayloadRecord) -> None:
    line = encode_record(record)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # newlines inside strings are escaped
    obj = json.loads(line)
    assert line == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    assert encode_record(record) == line


def test_record_shape() -> None:
    assert json.loads(encode_record(RECORD)) == {
        "a": [[21, "2025-02-01", "2025-03-01"]],
        "b": [2, 1, True, False, None, "2025-04-02", None, False],
        "d": [["ICPC-2", "T90"]],
        "f": [["syn", 2, "2025-03-01"]],
        "fa": 1941,
        "ft": "FNR",
        "k": "K",
        "kl": [[21, "2025-03-20", "ikke-medhold"]],
        "ref": "SECRET-REF-0001",
        "t": [["T-1", 15, "M", "2024-12-01", "2025-01-01", "2025-01-02", None, 3.5, "974760673"]],
        "tv": [["TV-1", "PBRL4A", "2025-04-01", "2025-04-02", None]],
    }
    assert json.loads(encode_header(HEADER)) == {
        "bydelNr": "030104",
        "format": "iplos-payload/2",
        "formatVersjon": "1.1",
        "kommuneNr": "0301",
        "kontaktperson": {
            "epost": "kari.testesen@k0301.kommune.example",
            "navn": "Kari Testesen",
            "telefon": "+47 01 23 45 67",
        },
        "leverandor": "Visma",
        "meldingGUID": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "navnEPJ": "Profil",
        "rapporteringsaar": 2025,
        "versjonEPJ": "2024.3",
    }
    assert PAYLOAD_FORMAT == "iplos-payload/2"
    assert json.loads(encode_trailer(7)) == {"antall": 7}


def test_a_record_without_the_1_1_fields() -> None:
    # A record from a 1.0 export: the background all null, the lists empty, event type N.
    record = PayloadRecord(
        "r", None, None, FidType.FNR, (), (), (Service("T", 1, None, dt.date(2025, 1, 1), None, 1.0, None),)
    )
    obj = json.loads(encode_record(record))
    assert obj["b"] == [None] * 8
    assert (obj["a"], obj["kl"], obj["tv"]) == ([], [], [])
    assert obj["t"][0][2:4] == ["N", None]
    assert decode_all(encode_header(HEADER) + encode_record(record) + encode_trailer(1))[1] == [record]


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(replace(RECORD, services=(replace(RECORD.services[0], event_type="X"),)), id="event type"),
        pytest.param(replace(RECORD, complaints=(Complaint(21, dt.date(2025, 1, 1), "ja"),)), id="outcome"),
        pytest.param(
            replace(RECORD, coercion=(Coercion("T", "HOL10", dt.date(2025, 1, 1), dt.date(2025, 1, 1), None),)),
            id="legal basis",
        ),
    ],
)
def test_codes_outside_their_lists_cannot_be_encoded(record: PayloadRecord) -> None:
    with pytest.raises(ValueError, match="code list"):
        encode_record(record)


def test_decodes_from_a_binary_file() -> None:
    header, decoded = decode_payload(io.BytesIO(payload(HEADER, [RECORD, RECORD])))
    assert (header, list(decoded)) == (HEADER, [RECORD, RECORD])


def test_generated_persons_round_trip() -> None:
    header, persons = generate_records("0301", 2025, 60, 3)
    items = [to_payload(p, f"ref-{i}", 1950 + i % 40, Sex.MALE if i % 2 else None) for i, p in enumerate(persons)]
    assert decode_all(payload(header, items)) == (header, items)


def test_to_payload_drops_identity_and_user_number() -> None:
    person = PersonRecord("100001", "01879031113", FidType.DNR, RECORD.function_scores, RECORD.diagnoses, ())
    record = to_payload(person, "r1", 1990, Sex.MALE)
    assert record == PayloadRecord("r1", 1990, Sex.MALE, FidType.DNR, RECORD.function_scores, RECORD.diagnoses, ())


def test_to_payload_keeps_every_1_1_field() -> None:
    person = PersonRecord(
        "100001",
        "01879031113",
        FidType.FNR,
        (),
        (),
        RECORD.services,
        RECORD.background,
        RECORD.refusals,
        RECORD.complaints,
        RECORD.coercion,
    )
    record = to_payload(person, "SECRET-REF-0001", 1941, Sex.FEMALE)
    assert record == replace(RECORD, function_scores=(), diagnoses=())
    line = encode_record(record)
    assert b"01879031113" not in line
    assert b"100001" not in line


def test_integer_hours_decode_as_float() -> None:
    line = encode_record(RECORD).replace(b"3.5,", b"4,")
    _, decoded = decode_all(encode_header(HEADER) + line + encode_trailer(1))
    hours = decoded[0].services[0].hours_per_week
    assert hours == 4.0
    assert isinstance(hours, float)


def test_non_finite_hours_cannot_be_encoded() -> None:
    service = Service("T", 1, None, dt.date(2025, 1, 1), None, float("inf"), None)
    record = PayloadRecord("r", None, None, FidType.FNR, (), (), (service,))
    with pytest.raises(ValueError, match="finite"):
        encode_record(record)


# ------------------------------------------------------------------------------------------ strictness


def record_line(**changes: object) -> bytes:
    obj = json.loads(encode_record(RECORD))
    for key, value in changes.items():
        if value is KeyError:
            del obj[key]
        else:
            obj[key] = value
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(record_line(extra=1), id="unknown key"),
        pytest.param(record_line(k=KeyError), id="missing key"),
        pytest.param(record_line(fa="1941"), id="birth year as string"),
        pytest.param(record_line(fa=True), id="birth year as bool"),
        pytest.param(record_line(fa=1941.0), id="birth year as float"),
        pytest.param(record_line(k="X"), id="unknown sex"),
        pytest.param(record_line(ft="SSN"), id="unknown fid type"),
        pytest.param(record_line(ref=None), id="ref null"),
        pytest.param(record_line(f=[["syn", "2", "2025-03-01"]]), id="score as string"),
        pytest.param(record_line(f=[["syn", True, "2025-03-01"]]), id="score as bool"),
        pytest.param(record_line(f=[["syn", 2, "20250301"]]), id="basic ISO date"),
        pytest.param(record_line(f=[["syn", 2, "2025-02-30"]]), id="impossible date"),
        pytest.param(record_line(f=[["syn", 2]]), id="short score"),
        pytest.param(record_line(f={"syn": 2}), id="scores as object"),
        pytest.param(record_line(d=[["ICPC-3", "T90"]]), id="unknown code system"),
        pytest.param(
            record_line(t=[["T", 15, "N", None, None, "2025-01-01", None, "3.5", None]]), id="hours as string"
        ),
        pytest.param(record_line(t=[["T", 15, "N", None, None, "2025-01-01", None, True, None]]), id="hours as bool"),
        pytest.param(record_line(t=[["T", 15, "N", None, None, "2025-01-01", None, None]]), id="short service"),
        pytest.param(record_line(t=[["T", 15, None, "2025-01-01", None, 3.5, None]]), id="a version 1 service"),
        pytest.param(record_line(t=[["T", 15, "N", None, None, None, None, None, None]]), id="no start date"),
        pytest.param(
            record_line(t=[["T", 15, "N", None, None, "2025-01-01", None, None, 974760673]]), id="org nr as number"
        ),
        pytest.param(record_line(t=[["T", 15, "X", None, None, "2025-01-01", None, None, None]]), id="unknown event"),
        pytest.param(record_line(t=[["T", 15, None, None, None, "2025-01-01", None, None, None]]), id="null event"),
        pytest.param(
            record_line(t=[["T", 15, "N", "2025-13-01", None, "2025-01-01", None, None, None]]), id="bad application"
        ),
        pytest.param(record_line(b=None), id="background null"),
        pytest.param(record_line(b=[None] * 7), id="background short"),
        pytest.param(record_line(b=["2", None, None, None, None, None, None, None]), id="housing as string"),
        pytest.param(record_line(b=[True, None, None, None, None, None, None, None]), id="housing as bool"),
        pytest.param(record_line(b=[None, None, 1, None, None, None, None, None]), id="unpaid help as 1"),
        pytest.param(record_line(b=[None, None, None, "true", None, None, None, None]), id="boolean as string"),
        pytest.param(record_line(b=[None, None, None, None, "2025-02-30", None, None, None]), id="bad death date"),
        pytest.param(record_line(a=[[21, None]]), id="short refusal"),
        pytest.param(record_line(a=[[21, None, None]]), id="refusal without decision"),
        pytest.param(record_line(a={"21": "2025-01-01"}), id="refusals as object"),
        pytest.param(record_line(kl=[[21, "2025-01-01", "ja"]]), id="unknown outcome"),
        pytest.param(record_line(kl=[["21", "2025-01-01", None]]), id="complaint type as string"),
        pytest.param(record_line(tv=[["V", "HOL10", "2025-01-01", "2025-01-01", None]]), id="unknown basis"),
        pytest.param(record_line(tv=[["V", "HOL9", "2025-01-01", None, None]]), id="coercion without start"),
        pytest.param(record_line(tv=[[1, "HOL9", "2025-01-01", "2025-01-01", None]]), id="vedtakID as number"),
        pytest.param(record_line(tv=KeyError), id="no coercion key"),
        pytest.param(b'{"ref":"a","ref":"b"}\n', id="duplicate key"),
        pytest.param(encode_record(RECORD).replace(b"3.5", b"NaN"), id="NaN"),
        pytest.param(encode_record(RECORD).replace(b"3.5", b"Infinity"), id="Infinity"),
        pytest.param(encode_record(RECORD).replace(b"3.5,", b"1" + b"0" * 400 + b","), id="hours beyond any double"),
        pytest.param(record_line(d=[["ICPC-2", "T90\x00"]]), id="U+0000 in a string"),
        pytest.param(record_line(d=[["ICPC-2", "T90\ud800"]]), id="unpaired surrogate"),
        pytest.param(b"[1,2]\n", id="not an object"),
        pytest.param(b"\n", id="blank line"),
        pytest.param(b'{"ref":"\xff"}\n', id="invalid utf-8"),
        pytest.param(encode_record(RECORD)[:-1], id="no final newline"),
        pytest.param(encode_record(RECORD)[:-5] + b"\n", id="cut short"),
    ],
)
def test_bad_record_lines_are_refused_without_echo(line: bytes) -> None:
    _, decoded = decode_payload(iter_lines([encode_header(HEADER), line]))
    with pytest.raises(PayloadDecodeError) as caught:
        list(decoded)
    message = str(caught.value)
    assert "payload line 2" in message
    for content in ("SECRET", "974760673", "T90", "2025", "HOL10", "ja"):
        assert content not in message
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(encode_header(HEADER).replace(b"iplos-payload/2", b"iplos-payload/3"), id="newer version"),
        pytest.param(encode_header(HEADER).replace(b"iplos-payload/2", b"iplos-payload/1"), id="older version"),
        pytest.param(encode_header(HEADER).replace(b'"format":"iplos-payload/2",', b""), id="no version"),
        pytest.param(encode_header(HEADER).replace(b'"bydelNr":"030104",', b""), id="no bydelNr key"),
        pytest.param(encode_header(HEADER).replace(b'"bydelNr":"030104"', b'"bydelNr":30104'), id="bydelNr int"),
        pytest.param(encode_header(HEADER).replace(b'"navn":', b'"name":'), id="contact key"),
        pytest.param(
            encode_header(HEADER).replace(b',"telefon":"+47 01 23 45 67"', b""), id="contact without telefon key"
        ),
        pytest.param(encode_header(HEADER).replace(b'"navn":"Kari Testesen"', b'"navn":null'), id="contact navn null"),
        pytest.param(
            encode_header(replace(HEADER, kontaktperson=None)).replace(b'"kontaktperson":null', b'"kontaktperson":"x"'),
            id="contact as string",
        ),
        pytest.param(encode_header(HEADER).replace(b'"kommuneNr"', b'"x":0,"kommuneNr"'), id="unknown key"),
        pytest.param(encode_header(HEADER).replace(b'"kommuneNr":"0301"', b'"kommuneNr":301'), id="kommune int"),
        pytest.param(encode_trailer(1), id="the trailer first"),
        pytest.param(encode_record(RECORD), id="a record first"),
    ],
)
def test_bad_headers_are_refused(first: bytes) -> None:
    with pytest.raises(PayloadDecodeError, match="payload line 1"):
        decode_payload([first, encode_record(RECORD)])


# ------------------------------------------------------------------------------------------------ bounds

# Where each bound of docs/envelope-v1.md 6.4 applies: (bound name, setter on a record line's JSON object).
BOUND_PLACES = {
    "fa": lambda o, v: o.__setitem__("fa", v),
    "bolig": lambda o, v: o["b"].__setitem__(0, v),
    "husstand": lambda o, v: o["b"].__setitem__(1, v),
    "variabel": lambda o, v: o["f"][0].__setitem__(0, v),
    "skaar": lambda o, v: o["f"][0].__setitem__(1, v),
    "kode": lambda o, v: o["d"][0].__setitem__(1, v),
    "tjenesteID": lambda o, v: o["t"][0].__setitem__(0, v),
    "tjenesteType": lambda o, v: o["t"][0].__setitem__(1, v),
    "tjenesteType (refusal)": lambda o, v: o["a"][0].__setitem__(0, v),
    "tjenesteType (complaint)": lambda o, v: o["kl"][0].__setitem__(0, v),
    "orgNr": lambda o, v: o["t"][0].__setitem__(8, v),
    "vedtakID": lambda o, v: o["tv"][0].__setitem__(0, v),
}


def chars(count: int) -> str:
    """``count`` characters, two of them more than one byte in UTF-8 (one outside the BMP): bounds count characters."""
    return ("\u00f8\U0001f600" + "x" * count)[:count]


def values_at_and_past(place: str) -> tuple[list[object], list[object]]:
    """The values at the bound (both ends of a range) and one past it."""
    name = place.split(" ")[0]
    if name in MAX_CHARS:
        return [chars(MAX_CHARS[name])], [chars(MAX_CHARS[name] + 1)]
    low, high = INT_RANGES[name]
    return [low, high], [low - 1, high + 1]


def stream_with(place: str, value: object) -> list[bytes]:
    if place == "bydelNr":
        header = json.loads(encode_header(HEADER))
        header["bydelNr"] = value
        return [json.dumps(header).encode() + b"\n", encode_record(RECORD), encode_trailer(1)]
    record = json.loads(encode_record(RECORD))
    BOUND_PLACES[place](record, value)
    return [encode_header(HEADER), json.dumps(record).encode() + b"\n", encode_trailer(1)]


def test_every_bound_has_a_place() -> None:
    assert {place.split(" ")[0] for place in [*BOUND_PLACES, "bydelNr"]} == set(MAX_CHARS) | set(INT_RANGES)


@pytest.mark.parametrize("place", ["bydelNr", *BOUND_PLACES])
def test_a_value_at_its_bound_decodes_and_one_past_is_refused_without_echo(place: str) -> None:
    at, past = values_at_and_past(place)
    for value in at:
        header, decoded = decode_payload(stream_with(place, value))
        round_trip = payload(header, list(decoded))
        assert (json.dumps(value, ensure_ascii=False).encode()) in round_trip
    for value in past:
        with pytest.raises(PayloadDecodeError) as caught:
            decode_all(b"".join(stream_with(place, value)))
        message = str(caught.value)
        assert message.startswith("payload line 1:" if place == "bydelNr" else "payload line 2:")
        assert place.split(" ")[0] in message
        assert str(value) not in message  # the bound is named, the value is not
        assert "\u00f8" not in message


def test_empty_payload_is_refused() -> None:
    with pytest.raises(PayloadDecodeError, match="empty"):
        decode_payload([])


def test_the_trailer_must_count_the_records_and_come_last() -> None:
    _, fewer = decode_payload([encode_header(HEADER), encode_record(RECORD), encode_trailer(2)])
    with pytest.raises(PayloadDecodeError, match="counts 2 records, the payload has 1"):
        list(fewer)
    _, more = decode_payload([encode_header(HEADER), encode_record(RECORD), encode_record(RECORD), encode_trailer(1)])
    with pytest.raises(PayloadDecodeError, match="counts 1 records, the payload has 2"):
        list(more)
    _, truncated = decode_payload([encode_header(HEADER), encode_record(RECORD)])
    with pytest.raises(PayloadDecodeError, match="no trailer"):
        list(truncated)
    _, trailing = decode_payload(
        [encode_header(HEADER), encode_record(RECORD), encode_trailer(1), encode_record(RECORD)]
    )
    with pytest.raises(PayloadDecodeError, match="nothing may follow"):
        list(trailing)
    for bad in (b'{"antall":-1}\n', b'{"antall":"1"}\n'):
        _, decoded = decode_payload([encode_header(HEADER), bad])
        with pytest.raises(PayloadDecodeError):
            list(decoded)


def test_decoding_is_lazy() -> None:
    # A bad third line is only found when it is reached: the registry streams records into the database.
    lines = [encode_header(HEADER), encode_record(RECORD), encode_record(RECORD), b"garbage\n"]
    _, decoded = decode_payload(lines)
    assert next(decoded) == RECORD
    assert next(decoded) == RECORD
    with pytest.raises(PayloadDecodeError, match="payload line 4"):
        next(decoded)


# ------------------------------------------------------------------------------------------- iter_lines


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"") + b"\n"), max_size=10),
    tail=st.binary(max_size=5).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(0, 400), max_size=20),
)
def test_iter_lines_resplits_any_chunking(lines: list[bytes], tail: bytes, cuts: list[int]) -> None:
    data = b"".join(lines) + tail
    expected = lines + ([tail] if tail else [])
    assert list(iter_lines(split(data, cuts))) == expected
    assert list(iter_lines([bytes([b]) for b in data])) == expected


def header_line_of(size: int) -> bytes:
    """HEADER's line padded with white space to exactly ``size`` bytes, its newline not counted."""
    line = encode_header(HEADER)
    return b"{" + b" " * (size - len(line) + 1) + line[1:]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# The limit does not count the newline (docs/envelope-v1.md 6.1): a line of MAX_LINE_BYTES bytes and its newline
# decodes, whether the newline comes in the same chunk as the line or in the next one.
@pytest.mark.parametrize("chunk", [MAX_LINE_BYTES, MAX_LINE_BYTES + 1, 1 << 16, 4093])
def test_a_line_of_exactly_the_limit_decodes(chunk: int) -> None:
    line = header_line_of(MAX_LINE_BYTES)
    assert len(line) == MAX_LINE_BYTES + 1
    assert line.endswith(b"\n")
    header, decoded = decode_payload(iter_lines(chunked(line + encode_trailer(0), chunk)))
    assert (header, list(decoded)) == (HEADER, [])
    header, decoded = decode_payload([line, encode_trailer(0)])  # lines handed over whole
    assert (header, list(decoded)) == (HEADER, [])


@pytest.mark.parametrize("chunk", [MAX_LINE_BYTES, MAX_LINE_BYTES + 1, MAX_LINE_BYTES + 2, 1 << 16])
def test_a_line_one_byte_past_the_limit_is_refused(chunk: int) -> None:
    line = header_line_of(MAX_LINE_BYTES + 1)
    with pytest.raises(PayloadDecodeError, match="maximum length"):
        decode_payload(iter_lines(chunked(line + encode_trailer(0), chunk)))
    with pytest.raises(PayloadDecodeError, match="maximum length"):
        decode_payload([line, encode_trailer(0)])


def test_iter_lines_refuses_an_endless_line() -> None:
    chunks = (b"x" * 1000 for _ in range(100))
    with pytest.raises(PayloadDecodeError, match="maximum length"):
        list(iter_lines(chunks, max_line=10_000))


# ------------------------------------------------------------------------------ the quick and the checked reader

_DAMAGE: list[object] = [
    None, True, False, 0, -1, 10, 1000, 10**6, 2**60, 1.5, 3.0, 3, float("inf"), "", "x" * 70, "2025-02-30",
    "2025-1-01", "٢٠٢٥-01-01", "N", "X", "ICD-10", "M", "FNR", [], [1], {}, "2025-01-01",
]  # fmt: skip


def _damaged(value: object, rnd: random.Random) -> object:
    """``value`` (a decoded line's object) with one value somewhere in it replaced by one of ``_DAMAGE``."""
    if isinstance(value, list) and value and rnd.random() < 0.7:
        i = rnd.randrange(len(value))
        value[i] = _damaged(value[i], rnd)
        return value
    if isinstance(value, dict) and value:
        key = rnd.choice(sorted(value))
        value[key] = _damaged(value[key], rnd)
        return value
    return rnd.choice(_DAMAGE)


def _answer(read: Callable[[dict[str, Any], int], PayloadRecord], obj: dict[str, Any]) -> object:
    try:
        return read(copy.deepcopy(obj), 7)
    except PayloadDecodeError as error:
        return str(error)


def test_the_quick_reader_gives_the_reference_reader_s_answer_for_every_record_valid_or_damaged() -> None:
    """The decoder reads a record with a quick reader and falls back to the reference reader (which checks each
    value in turn and names the first fault) on anything unexpected: the two must give the same record or the
    same refusal, for generated records and for records with up to three values damaged anywhere."""
    _, persons = generate_records("0301", 2025, 150, 11)
    items = [to_payload(p, f"{i:032x}", 1950 + i % 40, Sex.MALE if i % 2 else None) for i, p in enumerate(persons)]
    items += [RECORD, replace(RECORD, services=(replace(RECORD.services[0], hours_per_week=None),))]
    objects = [load_line(encode_record(item), 7) for item in items]
    for obj in objects:
        assert _quick_record(copy.deepcopy(obj), 7) == _checked_record(obj, 7) == _record_from(obj, 7)
    rnd = random.Random(13)
    refused = 0
    for _ in range(20_000):
        obj = copy.deepcopy(rnd.choice(objects))
        for _ in range(rnd.randint(1, 3)):
            _damaged(obj, rnd)
        answer = _answer(_record_from, obj)
        assert answer == _answer(_checked_record, obj)
        refused += isinstance(answer, str)
    assert 5_000 < refused < 20_000  # both kinds of answer were compared


def test_dates_are_read_once_and_the_memory_of_them_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_values, "_MAX_DAYS", 3)
    _values.DAYS.clear()
    days = [f"2025-01-0{d}" for d in range(1, 8)]
    for text in days:
        assert _values.day_or_none(text) == dt.date.fromisoformat(text)
        assert len(_values.DAYS) <= 3
    assert _values.day_or_none(days[-1]) is _values.day_or_none(days[-1])
    for bad in ("2025-02-30", "2025-1-01", "٢٠٢٥-01-01", 20250101, None):
        assert _values.day_or_none(bad) is None
    assert "2025-02-30" not in _values.DAYS
