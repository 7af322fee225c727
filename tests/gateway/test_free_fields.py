"""No free-form field of an export carries an identity number to the registry (issue 17, covert channels): an
identity number smuggled into each field that reaches the registry is refused by the real gateway app, before
202, naming the field, its line and the person's position and brukerNr, never the value; nothing is queued, kept
or left on disk.

The number is the test kit's own synthetic one (Tenor form, month + 80) of the person it is smuggled for: what a
care-record system that builds its ids from the person's number would send. It is written as eleven digits in a
row, split by a space or a hyphen, or cut to the ten digits that already make it (for a diagnosis code, whose
schema form admits ten).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from keys.generate import init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from shared.iplos.free_fields import FREE_FIELDS
from shared.iplos.model import CodeSystem, Coercion, Contact, Diagnosis, ExportHeader, PersonRecord
from tests.badinput.conftest import TestClient
from tests.gateway import test_access as access
from tests.gateway.test_limits import kept

MUNICIPALITY = "0301"
YEAR = 2025
PROBLEM = "urn:iplos-chain:problem:"
TOKEN = new_token()
PERSONS = 7
MIDDLE = PERSONS // 2  # the index of the person a value is smuggled for; position MIDDLE + 1 in the file


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("free-fields")


@pytest.fixture(scope="module")
def gateway(state: Path) -> Iterator[TestClient]:
    init_keys(state / "keys", [MUNICIPALITY])
    credentials = state / "gateway.json"
    write_credentials(
        credentials, [Credential("municipality", "municipality", hash_token(TOKEN), municipality=MUNICIPALITY)]
    )
    with access.running_gateway(state, "gateway", credentials) as client:
        yield client


def post(gateway: TestClient, body: bytes) -> Any:
    headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {TOKEN}"}
    return gateway.post("/v1/submissions", content=body, headers=headers)


def records() -> tuple[ExportHeader, list[PersonRecord]]:
    header, people = generate_records(MUNICIPALITY, YEAR, PERSONS, 11)
    return header, list(people)


def export(header: ExportHeader, people: list[PersonRecord]) -> bytes:
    out = io.BytesIO()
    write_export(out, header, people)
    return out.getvalue()


Smuggle = Callable[[ExportHeader, PersonRecord, str], tuple[ExportHeader, PersonRecord]]


def _contact(header: ExportHeader, **changes: str) -> ExportHeader:
    contact = header.kontaktperson or Contact(navn="Kari Testesen")
    return dataclasses.replace(header, kontaktperson=dataclasses.replace(contact, **changes))


def _first_service(person: PersonRecord, tjeneste_id: str) -> PersonRecord:
    first, *rest = person.services
    return dataclasses.replace(person, services=(dataclasses.replace(first, tjeneste_id=tjeneste_id), *rest))


def _coercion(person: PersonRecord, vedtak_id: str) -> PersonRecord:
    start = person.services[0].start_date
    decision = Coercion(vedtak_id, "HOL9", start, start, None)
    return dataclasses.replace(person, coercion=(*person.coercion, decision))


# Each free field of shared.iplos.free_fields.FREE_FIELDS, with the number written into it as the schema admits.
SMUGGLED: dict[str, Smuggle] = {
    "meldingshode/epj/navnEPJ": lambda h, p, n: (dataclasses.replace(h, navn_epj=f"Gerica {n}"), p),
    "meldingshode/epj/leverandor": lambda h, p, n: (dataclasses.replace(h, leverandor=f"{n[:6]} {n[6:]}"), p),
    "meldingshode/epj/versjonEPJ": lambda h, p, n: (dataclasses.replace(h, versjon_epj=f"{n[:6]}-{n[6:]}"), p),
    "meldingshode/kontaktperson/navn": lambda h, p, n: (_contact(h, navn=f"Kari {n[:6]} {n[6:]}"), p),
    "meldingshode/kontaktperson/telefon": lambda h, p, n: (_contact(h, telefon=f"+47 {n[:6]} {n[6:]}"), p),
    "meldingshode/kontaktperson/epost": lambda h, p, n: (_contact(h, epost=f"k.{n}@kommune.example"), p),
    "diagnose/@kode": lambda h, p, n: (
        h,
        dataclasses.replace(p, diagnoses=(*p.diagnoses, Diagnosis(CodeSystem.ICD10, n[:10]))),
    ),
    "tjeneste/@tjenesteID": lambda h, p, n: (h, _first_service(p, f"T-{n[:6]}-{n[6:]}")),
    "tvangsvedtak/@vedtakID": lambda h, p, n: (h, _coercion(p, f"TV.{n}")),
}


def test_every_free_field_is_tried() -> None:
    assert set(SMUGGLED) == set(FREE_FIELDS)


@pytest.mark.parametrize("field", list(SMUGGLED))
def test_an_identity_number_smuggled_into_a_free_field_is_refused_naming_the_field_not_the_value(
    gateway: TestClient, state: Path, field: str
) -> None:
    header, people = records()
    person = people[MIDDLE]
    number = person.fid
    assert number[2:4] > "80"  # a synthetic number: the month plus 80
    header, people[MIDDLE] = SMUGGLED[field](header, person, number)
    before = kept(gateway)

    response = post(gateway, export(header, people))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == PROBLEM + "schema-invalid"
    [error] = problem["errors"]
    element, _, attribute = field.rpartition("/@")
    expected_rule = "diagnosis-code-form" if field == "diagnose/@kode" else "could-carry-identity-number"
    assert error["rule"] == expected_rule
    if field.startswith("meldingshode/"):
        assert error["path"] == f"iplosMelding/{field}"
        assert (error["person"], error["brukerNr"]) == (None, None)
    else:
        assert error["path"].startswith(f"iplosMelding/personer/person[{MIDDLE + 1}]/")
        assert error["path"].endswith(f"/@{attribute}")
        assert (error["element"], error["attribute"]) == (element.rpartition("/")[2], attribute)
        assert (error["person"], error["brukerNr"]) == (MIDDLE + 1, person.bruker_nr)
    # Never the value: neither half of the number, in the answer or in a log line.
    logged = "".join(log.read_text(encoding="utf-8") for log in (state / "gateway" / "logs").glob("*.log"))
    assert "schema-invalid" in logged  # the refusal is logged (by its problem type)
    for text in (response.text, logged):
        assert number[:6] not in text
        assert number[6:] not in text
    assert kept(gateway) == before


def test_the_same_export_without_the_smuggled_values_is_accepted(gateway: TestClient) -> None:
    """The positive control: the refusals above are the smuggled values', not the export's."""
    header, people = records()
    response = post(gateway, export(header, people))
    assert response.status_code == 202, response.text
