"""Defence in depth at the registry (issue 17, covert channels): a delivery whose payload, signed by the
municipality, carries an identity number in a free field is refused as a whole, for good (``invalid-payload``,
422, naming the field, never the value), and nothing is stored. The gateway refuses such an export before it
seals it (tests/gateway/test_free_fields.py), so here the payload is forged after the gateway: opened, changed
and sealed and signed again (``with_payload_changed`` of test_bounds).

The number is the test kit's own synthetic one (Tenor form, month + 80) of the first person of the export. Every
test runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from shared.envelope.identity import open_identities
from shared.iplos.free_fields import FREE_FIELDS
from shared.keys.tpf import load_tpf_keys
from tests.badinput.conftest import TestClient
from tests.e2e.messages import Message, build_delivery

from .test_bounds import (
    PROBLEM,
    audit_events,
    key_state,  # noqa: F401 (a fixture)
    log_text,
    new_message,
    registry,  # noqa: F401 (a fixture)
    stored_state,
    submission_rows,
    with_payload_changed,
)

Json = dict[str, Any]
Change = Callable[[str], Callable[[Json, Json], None]]


def _contact(name: str, make: Callable[[str], str]) -> Change:
    def change(number: str) -> Callable[[Json, Json], None]:
        def apply(header: Json, record: Json) -> None:
            contact = header["kontaktperson"] or {"navn": "Kari Testesen", "telefon": None, "epost": None}
            header["kontaktperson"] = {**contact, name: make(number)}

        return apply

    return change


def _header(name: str, make: Callable[[str], str]) -> Change:
    return lambda number: lambda header, record: header.__setitem__(name, make(number))


def _record(key: str, make: Callable[[str, Json], Any]) -> Change:
    return lambda number: lambda header, record: record.__setitem__(key, make(number, record))


def _service(number: str, record: Json) -> list[Any]:
    service = ["T-1", 15, "N", None, "2025-01-02", "2025-01-03", None, 3.5, "974760673"]
    service[0] = f"T {number[:6]} {number[6:]}"
    return [service, *record["t"]]


# Every free field (shared.iplos.free_fields.FREE_FIELDS), with the number as a forger would write it there.
SMUGGLED: dict[str, Change] = {
    "meldingshode/epj/navnEPJ": _header("navnEPJ", lambda n: f"EPJ {n}"),
    "meldingshode/epj/leverandor": _header("leverandor", lambda n: f"{n[:6]}-{n[6:]}"),
    "meldingshode/epj/versjonEPJ": _header("versjonEPJ", lambda n: f"{n[:6]}.{n[6:]}"),
    "meldingshode/kontaktperson/navn": _contact("navn", lambda n: f"Kari {n}"),
    "meldingshode/kontaktperson/telefon": _contact("telefon", lambda n: f"+47 {n}"),
    "meldingshode/kontaktperson/epost": _contact("epost", lambda n: f"{n}@kommune.example"),
    "diagnose/@kode": _record("d", lambda n, r: [["ICD-10", n[:10]], *r["d"]]),
    "tjeneste/@tjenesteID": _record("t", _service),
    "tvangsvedtak/@vedtakID": _record("tv", lambda n, r: [[f"V{n}", "HOL9", "2025-01-02", "2025-01-02", None]]),
}


def test_every_free_field_is_tried() -> None:
    assert set(SMUGGLED) == set(FREE_FIELDS)


def first_number(state: Path, message: Message) -> str:
    """The identity number of the message's first record, as the TPF would read it (the test kit's, synthetic)."""
    tpf = load_tpf_keys(state / "keys" / "tpf")
    parsed = message.parsed
    entries = open_identities(
        io.BytesIO(message.identity),
        tpf.party,
        parsed.parts.identity,
        sender=parsed.sender,
        message_id=parsed.message_id,
    )
    return next(iter(entries)).fid


def test_a_payload_with_an_identity_number_in_a_free_field_is_refused_and_changes_nothing(
    engine: Engine,
    registry: TestClient,  # noqa: F811 (the fixture)
    key_state: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    first = registry.post(
        "/v1/deliveries", files=build_delivery(key_state, new_message(key_state, tmp_path, 1)).files()
    )
    assert first.status_code == 201, first.text
    before, rows = stored_state(engine), submission_rows(engine)
    numbers = []
    for sequence, (field, change) in enumerate(SMUGGLED.items(), start=2):
        message = new_message(key_state, tmp_path, sequence)
        number = first_number(key_state, message)
        assert number[2:4] > "80", field  # synthetic: the month plus 80
        numbers.append(number)
        forged = with_payload_changed(key_state, message, change(number))
        response = registry.post("/v1/deliveries", files=build_delivery(key_state, forged).files())
        assert (response.status_code, response.json().get("type")) == (422, PROBLEM + "invalid-payload"), (
            f"{field}: HTTP {response.status_code} {response.text[:300]}"
        )
        body = response.json()
        assert (body["final"], body["field"]) == (True, field)
        assert number[:6] not in response.text, field
        assert number[6:] not in response.text, field
        assert (stored_state(engine), submission_rows(engine)) == (before, rows), field
    assert audit_events(engine) == ["stored"] + ["refused"] * len(SMUGGLED)
    logged = log_text(tmp_path)
    assert "invalid-payload" in logged
    for number in numbers:
        assert number[:6] not in logged
        assert number[6:] not in logged
