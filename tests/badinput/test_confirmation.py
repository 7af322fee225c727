"""The registry's confirmation endpoint and its policy refusals, against the real registry app.

A held submission is applied only by a confirmation that its own municipality signed about that very submission,
in time; every other confirmation gets a problem document and changes nothing. A delivery for a year the register
does not take, or without persons, is refused before anything is stored.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from iplos_testkit.generator import generate_export
from shared.envelope import Confirmation, utc_timestamp
from shared.envelope.receipts import carry
from shared.keys import PartyKeys
from shared.keys.tpf import load_tpf_keys
from tests.badinput.conftest import TestClient, build_apps, close_log_files, closing_replaced_log_files
from tests.e2e.messages import Message, build_delivery, build_message, keys_of

MUNICIPALITY, OTHER, YEAR = "1103", "0301", 2024
PROBLEM = "urn:iplos-chain:problem:"


def _export(folder: Path, persons: int, seed: int, year: int = YEAR) -> Path:
    path = folder / f"{MUNICIPALITY}-{year}-{persons}-{seed}.xml"
    with path.open("wb") as handle:
        generate_export(MUNICIPALITY, year, persons, seed, handle)
    return path


@dataclasses.dataclass
class Setting:
    registry: TestClient
    state: Path
    work: Path
    active: str
    held: Message


@pytest.fixture(scope="module")
def setting(chain_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    work = tmp_path_factory.mktemp("confirmation")
    registry_app = build_apps(chain_state, prefix="confirm-")["registry"]
    with closing_replaced_log_files(), TestClient(registry_app) as registry:
        first = build_message(chain_state, _export(work, 10, 1), 1, work=work)
        stored = registry.post("/v1/deliveries", files=build_delivery(chain_state, first).files())
        assert (stored.status_code, stored.json()["receipt"]["status"]) == (201, "stored")
        cut = build_message(chain_state, _export(work, 3, 2), 2, work=work)
        held = registry.post("/v1/deliveries", files=build_delivery(chain_state, cut).files())
        assert (held.status_code, held.json()["receipt"]["status"]) == (201, "held")
        assert held.json()["receipt"]["records_stored"] == 3
        yield Setting(registry, chain_state, work, first.parsed.message_id, cut)
    close_log_files(chain_state / "confirm-registry")


def confirmation(
    setting: Setting,
    *,
    signer: PartyKeys | None = None,
    key: SigningKey | None = None,
    **changes: Any,
) -> dict[str, Any]:
    signer = signer or keys_of(setting.state, MUNICIPALITY)
    fields: dict[str, Any] = {
        "message_id": setting.held.parsed.message_id,
        "sender": signer.party,
        "signer_kid": signer.signing_kid,
        "submission_sha256": hashlib.sha256(setting.held.header).hexdigest(),
        "municipality": MUNICIPALITY,
        "year": YEAR,
        "created_at": utc_timestamp(),
    } | changes
    return carry(Confirmation(**fields), "confirmation", key or signer.signing)


def post(setting: Setting, body: Any, message_id: str | None = None, **kwargs: Any) -> tuple[int, str]:
    message_id = message_id or setting.held.parsed.message_id
    response = setting.registry.post(f"/v1/submissions/{message_id}/confirmation", json=body, **kwargs)
    return response.status_code, response.json().get("type", "").removeprefix(PROBLEM)


def state(setting: Setting) -> dict[str, tuple[str, int]]:
    rows = setting.registry.app.state.registry.queries.list(MUNICIPALITY, YEAR)  # type: ignore[attr-defined]
    return {row.message_id: (row.status, row.record_count) for row in rows}


def _flipped(body: dict[str, Any]) -> dict[str, Any]:
    signature = bytearray(base64.b64decode(body["signature"]))
    signature[0] ^= 1
    return body | {"signature": base64.b64encode(bytes(signature)).decode()}


REFUSALS = [
    pytest.param(
        lambda s: confirmation(s, signer=keys_of(s.state, OTHER), municipality=MUNICIPALITY),
        (403, "municipality-mismatch"),
        id="signed by another municipality",
    ),
    pytest.param(
        lambda s: confirmation(s, signer=keys_of(s.state, OTHER), municipality=OTHER),
        (422, "confirmation-mismatch"),
        id="another municipality about its own number",
    ),
    pytest.param(lambda s: _as_tpf(s), (403, "signer-not-authorised"), id="signed by the TPF"),
    pytest.param(
        lambda s: confirmation(s, key=SigningKey.generate()),
        (400, "invalid-envelope"),
        id="signed with a key not the signer's",
    ),
    pytest.param(lambda s: _flipped(confirmation(s)), (400, "invalid-envelope"), id="flipped signature"),
    pytest.param(
        lambda s: confirmation(s, submission_sha256="0" * 64),
        (422, "confirmation-mismatch"),
        id="about another submission header",
    ),
    pytest.param(lambda s: confirmation(s, year=YEAR - 1), (422, "confirmation-mismatch"), id="another year"),
    pytest.param(
        lambda s: confirmation(s, message_id=s.active),
        (400, "invalid-envelope"),
        id="about another message than the path's",
    ),
    pytest.param(
        lambda s: confirmation(s, created_at=utc_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))),
        (400, "timestamp-out-of-window"),
        id="signed 40 days ago",
    ),
    pytest.param(lambda s: {"confirmation": "x", "signature": "AA=="}, (400, "invalid-envelope"), id="not an object"),
    pytest.param(lambda s: [1, 2], (400, "invalid-envelope"), id="a list"),
    pytest.param(
        lambda s: {"confirmation": {}, "signature": "not base64!"}, (400, "invalid-envelope"), id="signature not base64"
    ),
]


def _as_tpf(setting: Setting) -> dict[str, Any]:
    tpf = load_tpf_keys(setting.state / "keys" / "tpf").party
    body = confirmation(setting)
    fields = body["confirmation"] | {"sender": tpf.party, "signer_kid": tpf.signing_kid}
    return carry(Confirmation(**fields), "confirmation", tpf.signing)


@pytest.mark.parametrize(("make", "expected"), REFUSALS)
def test_a_confirmation_that_does_not_hold_is_refused_and_changes_nothing(
    setting: Setting, make: Any, expected: tuple[int, str]
) -> None:
    before = state(setting)
    assert post(setting, make(setting)) == expected
    assert state(setting) == before
    assert before[setting.held.parsed.message_id] == ("held", 3)


def test_transport_limits_on_the_confirmation(setting: Setting) -> None:
    before = state(setting)
    response = setting.registry.post(
        f"/v1/submissions/{setting.held.parsed.message_id}/confirmation",
        content=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    huge = {"confirmation": {"x": "a" * 20_000}, "signature": ""}
    assert post(setting, huge) == (413, "body-too-large")
    unknown = "00000000-0000-4000-8000-000000000001"
    assert post(setting, confirmation(setting, message_id=unknown), message_id=unknown) == (404, "not-found")
    assert state(setting) == before


def test_the_municipalitys_confirmation_applies_the_held_submission_once(setting: Setting) -> None:
    held_id = setting.held.parsed.message_id
    response = setting.registry.post(f"/v1/submissions/{held_id}/confirmation", json=confirmation(setting))
    assert response.status_code == 200, response.text
    receipt = response.json()["receipt"]
    assert (receipt["status"], receipt["supersedes"], receipt["records_stored"]) == ("stored", setting.active, 3)
    assert state(setting) == {setting.active: ("superseded", 10), held_id: ("active", 3)}
    # A second confirmation changes nothing and says what the submission is now, with its receipt.
    again = setting.registry.post(f"/v1/submissions/{held_id}/confirmation", json=confirmation(setting))
    assert (again.status_code, again.json()["type"], again.json()["receipt"]["status"]) == (
        409,
        PROBLEM + "not-held",
        "stored",
    )
    # A replay of the held message's delivery is answered with what it is now.
    assert state(setting) == {setting.active: ("superseded", 10), held_id: ("active", 3)}


@pytest.mark.parametrize(
    ("persons", "year", "expected"),
    [
        (0, YEAR, "empty-submission"),
        (3, 2019, "reporting-year-out-of-range"),
        (3, dt.datetime.now(dt.UTC).year + 1, "reporting-year-out-of-range"),
    ],
    ids=["no persons", "before the register's first year", "a year not yet begun"],
)
def test_the_registry_refuses_what_no_content_makes_acceptable(
    setting: Setting, persons: int, year: int, expected: str
) -> None:
    export = _export(setting.work, persons, 9, year=2024)
    message = build_message(setting.state, export, 50, work=setting.work, header_changes={"year": year})
    before = state(setting)
    response = setting.registry.post("/v1/deliveries", files=build_delivery(setting.state, message).files())
    assert (response.status_code, response.json()["type"]) == (422, PROBLEM + expected)
    assert state(setting) == before
