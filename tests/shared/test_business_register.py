"""Reading Enhetsregisteret's bulk files (shared/business_register): the CSV and JSON as Brønnøysundregistrene serves
them, gzipped or not, main units and sub-units; every refusal names the place and the rule, never a value."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.business_register import (
    BusinessRegisterInvalid,
    BusinessUnit,
    UnitKind,
    is_care_industry,
    read_units,
    write_units_csv,
    write_units_json,
)
from shared.business_register._columns import CSV_HEADER
from shared.iplos.controls import org_nr_is_valid

# Rows shaped as the real file's (every column of its header, quoted, ISO dates, an address list joined with a comma);
# the organisation numbers are synthetic, valid mod 11.
SUB_UNIT = {
    "organisasjonsnummer": "903012005",
    "navn": 'OSLO KOMMUNE, SYKEHJEMSETATEN AVD. "LINDEN"',
    "organisasjonsform.kode": "BEDR",
    "naeringskode1.kode": "87.101",
    "beliggenhetsadresse.adresse": "Storgata 1, 2. etg",
    "beliggenhetsadresse.kommunenummer": "0301",
    "registreringsdatoIEnhetsregisteret": "1995-02-20",
    "oppstartsdato": "1995-01-01",
    "overordnetEnhet": "903010002",
    "nedleggelsesdato": "",
}
CLOSED_SUB_UNIT = SUB_UNIT | {"organisasjonsnummer": "903019018", "nedleggelsesdato": "2019-06-30"}


def _csv(kind: UnitKind, rows: list[dict[str, str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    out = io.StringIO()
    header = CSV_HEADER[kind]
    out.write(delimiter.join(f'"{h}"' for h in header) + "\n")
    for row in rows:
        out.write(delimiter.join('"' + row.get(h, "").replace('"', '""') + '"' for h in header) + "\n")
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def _read(data: bytes, kind: UnitKind | None = None) -> tuple[UnitKind, list[BusinessUnit]]:
    found, units = read_units(io.BytesIO(data), kind)
    return found, list(units)


def test_a_sub_unit_csv_reads_the_columns_the_registry_takes() -> None:
    kind, units = _read(_csv(UnitKind.UNDERENHET, [SUB_UNIT, CLOSED_SUB_UNIT], bom=True))
    assert kind is UnitKind.UNDERENHET
    assert units[0] == BusinessUnit(
        org_nr="903012005",
        kind=UnitKind.UNDERENHET,
        name='OSLO KOMMUNE, SYKEHJEMSETATEN AVD. "LINDEN"',
        org_form="BEDR",
        industry="87.101",
        municipality="0301",
        registered_on=dt.date(1995, 2, 20),
        deleted_on=None,
        parent="903010002",
    )
    assert units[1].deleted_on == dt.date(2019, 6, 30)  # nedleggelsesdato


def test_gzip_json_and_the_older_semicolon_csv_read_the_same_units() -> None:
    csv_bytes = _csv(UnitKind.UNDERENHET, [SUB_UNIT, CLOSED_SUB_UNIT])
    _, expected = _read(csv_bytes)
    assert _read(gzip.compress(csv_bytes))[1] == expected
    assert _read(_csv(UnitKind.UNDERENHET, [SUB_UNIT, CLOSED_SUB_UNIT], delimiter=";"))[1] == expected
    # The JSON as the API nests it, with the address a list, numbers of employees as numbers.
    objects = [
        {
            "organisasjonsnummer": row["organisasjonsnummer"],
            "navn": row["navn"],
            "organisasjonsform": {"kode": "BEDR", "beskrivelse": "Underenhet til næringsdrivende"},
            "naeringskode1": {"kode": "87.101", "beskrivelse": "Somatiske sykehjem"},
            "antallAnsatte": 120,
            "beliggenhetsadresse": {"adresse": ["Storgata 1", "2. etg"], "kommunenummer": "0301"},
            "registreringsdatoIEnhetsregisteret": "1995-02-20",
            "overordnetEnhet": "903010002",
            **({"nedleggelsesdato": row["nedleggelsesdato"]} if row["nedleggelsesdato"] else {}),
        }
        for row in (SUB_UNIT, CLOSED_SUB_UNIT)
    ]
    kind, units = _read(gzip.compress(json.dumps(objects).encode()))
    assert kind is UnitKind.UNDERENHET
    assert units == expected


def test_a_main_unit_json_takes_the_business_address_and_a_deletion_date() -> None:
    objects = [
        {
            "organisasjonsnummer": "903010002",
            "navn": "OSLO KOMMUNE",
            "organisasjonsform": {"kode": "KOMM"},
            "naeringskode1": {"kode": "84.110"},
            "forretningsadresse": {"kommunenummer": "0301", "adresse": ["Rådhusplassen 1"]},
            "registreringsdatoEnhetsregisteret": "1995-02-20",
            "konkurs": False,
            "underAvvikling": False,
            "slettedato": "2024-01-01",
        }
    ]
    kind, [unit] = _read(json.dumps(objects).encode())
    assert kind is UnitKind.ENHET
    assert (unit.municipality, unit.industry, unit.deleted_on) == ("0301", "84.110", dt.date(2024, 1, 1))


_units = st.builds(
    BusinessUnit,
    org_nr=st.integers(80_000_000, 99_999_999)
    .map(str)
    .map(lambda p: next((p + d for d in "0123456789" if org_nr_is_valid(p + d)), "974760673")),
    kind=st.just(UnitKind.UNDERENHET),
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).map(str.strip),
    org_form=st.sampled_from([None, "BEDR", "AAFY"]),
    industry=st.sampled_from([None, "86.901", "87.101", "47.111", "84.120"]),
    municipality=st.sampled_from([None, "0301", "4601", "5001"]),
    registered_on=st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
    deleted_on=st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
    parent=st.sampled_from([None, "903010002"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_units, max_size=8, unique_by=lambda u: u.org_nr))
def test_what_the_writer_writes_the_reader_reads_back(units: list[BusinessUnit]) -> None:
    for write in (write_units_csv, write_units_json):
        out = io.BytesIO()
        assert write(units, out, UnitKind.UNDERENHET) == len(units)
        if not units:
            continue
        kind, read_back = _read(out.getvalue(), UnitKind.UNDERENHET)
        assert kind is UnitKind.UNDERENHET
        assert read_back == units


def _sub(**changes: str) -> bytes:
    return _csv(UnitKind.UNDERENHET, [SUB_UNIT | {k.replace("_", "."): v for k, v in changes.items()}])


_MIXED = b'[{"organisasjonsnummer": "903012005", "beliggenhetsadresse": {}}, {"konkurs": false}]'


@pytest.mark.parametrize(
    ("data", "code", "place"),
    [
        (_sub(organisasjonsnummer="903012006"), "org-nr-invalid", "line 2"),
        (_csv(UnitKind.UNDERENHET, [SUB_UNIT, SUB_UNIT]), "org-nr-repeated", "line 3"),
        (_sub(registreringsdatoIEnhetsregisteret="2024-02-30"), "date-invalid", "line 2"),
        (_sub(beliggenhetsadresse_kommunenummer="301"), "municipality-invalid", "line 2"),
        (_sub(naeringskode1_kode="sykehjem"), "industry-invalid", "line 2"),
        (b'"organisasjonsnummer","navn"\n"903012005","X"\n', "kind-unknown", "header"),
        (b"PK\x03\x04 spreadsheet", "format-unknown", "xlsx"),
        (b"", "empty", "empty"),
        (_MIXED, "kind-mixed", "unit 2"),
        (_MIXED[:-20], "json-invalid", "unit 2"),
        (gzip.compress(_csv(UnitKind.UNDERENHET, [SUB_UNIT]))[:-30], "gzip-invalid", "gzip"),
    ],
    ids=[
        "check-digit", "repeated", "date", "municipality", "industry", "not-a-register-file", "xlsx", "empty",
        "mixed-kinds", "cut-json", "cut-gzip",
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_with_its_place_and_rule_and_no_value(data: bytes, code: str, place: str) -> None:
    def read_all() -> None:
        _kind, units = read_units(io.BytesIO(data))
        list(units)

    with pytest.raises(BusinessRegisterInvalid) as caught:
        read_all()
    assert caught.value.code == code
    message = str(caught.value)
    assert place in message or place in ("header", "xlsx", "empty", "gzip")
    for value in ("903012005", "903012006", "LINDEN", "2024-02-30", "sykehjem"):
        assert value not in message


def test_care_industries_are_section_q_and_the_allocation_offices() -> None:
    assert all(is_care_industry(code) for code in ("86.901", "87.101", "88.101", "88.991", "84.120"))
    assert not any(is_care_industry(code) for code in ("84.110", "47.111", "85.201", "68.209"))
