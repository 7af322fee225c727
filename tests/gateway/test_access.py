"""Who may call what at the gateway, in process through the real gateway app (its database, outbox and worker):
municipality A submits, lists, reads and retries its own submissions only; B's are answered as if they did not
exist; an export for B sent with A's credential is refused before anything is queued; the operator acts for
every municipality the gateway serves. No TPF is reachable, so a submission is dead-lettered after its one
delivery attempt and stays put (retryable) until someone retries it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iplos_testkit.generator import generate_export
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.municipality_gateway import api, sealing
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.models import record_refs, submissions
from services.municipality_gateway.service import GatewayContext
from services.municipality_gateway.states import FINAL_STATES
from shared.iplos.municipalities import municipality_name
from tests.badinput.conftest import TestClient, close_log_files, closing_replaced_log_files

A, B = "0301", "4601"
YEAR = 2025
UNREACHABLE = "http://127.0.0.1:9"  # discard port: a connection is refused at once
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
PROBLEM = "urn:iplos-chain:problem:"
# The documents' fields, in the order the gateway has always sent them.
ACCEPTED_FIELDS = ["submission_id", "municipality", "year", "sequence", "records", "state", "status_url"]
SUBMISSION_FIELDS = [
    "submission_id",
    "municipality",
    "year",
    "sequence",
    "records",
    "state",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "forwarded_at",
    "receipt",
    "receipt_signature",
]
REPORT_FIELDS = [
    "submission_id",
    "municipality",
    "year",
    "sequence",
    "records",
    "finding_count",
    "counts",
    "findings",
    "register_check",
]
TOKENS = {"operator": new_token(), A: new_token(), B: new_token()}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("access")
    init_keys(folder / "keys", [A, B])
    write_credentials(
        folder / "gateway.json",
        [
            Credential("operator", "operator", hash_token(TOKENS["operator"])),
            Credential("a", "municipality", hash_token(TOKENS[A]), municipality=A),
            Credential("b", "municipality", hash_token(TOKENS[B]), municipality=B),
        ],
    )
    for nr in (A, B):
        with (folder / f"{nr}.xml").open("wb") as handle:
            generate_export(nr, YEAR, 4, 3, handle)
    return folder


@contextmanager
def running_gateway(state: Path, name: str, credentials_file: Path | None, **settings: Any) -> Iterator[TestClient]:
    """The gateway app on ``state``'s keys, with no reachable peer, giving up on a delivery after one attempt."""
    keys = state / "keys"
    app = api.create_app(
        GatewaySettings(
            key_dir=keys / MUNICIPALITIES_FOLDER,
            directory=keys / DIRECTORY_FILE,
            state_dir=state / name,
            tpf_url=UNREACHABLE,
            registry_url=UNREACHABLE,
            delivery_max_attempts=1,
            delivery_backoff_s=3600,
            delivery_backoff_max_s=3600,
            credentials_file=credentials_file,
            **settings,
        )
    )
    try:
        with closing_replaced_log_files(), TestClient(app) as client:
            yield client
    finally:
        close_log_files(state)


@pytest.fixture(scope="module")
def gateway(state: Path) -> Iterator[TestClient]:
    with running_gateway(state, "gateway", state / "gateway.json") as client:
        yield client


def as_(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}


def submit(gateway: TestClient, export: str, who: str | None) -> Any:
    body = (gateway_state(gateway) / f"{export}.xml").read_bytes()
    return gateway.post("/v1/submissions", content=body, headers={"Content-Type": "application/xml", **as_(who)})


def gateway_state(gateway: TestClient) -> Path:
    ctx: GatewayContext = gateway.app.state.gateway  # type: ignore[attr-defined]
    return ctx.settings.state_dir.parent


def settled(gateway: TestClient, submission_id: str) -> dict[str, Any]:
    """Wait for the worker's one delivery attempt to end (dead-letter: no TPF is reachable)."""
    deadline = time.monotonic() + 30
    while True:
        row: dict[str, Any] = gateway.get(f"/v1/submissions/{submission_id}", headers=as_("operator")).json()
        if row["state"] in FINAL_STATES:
            return row
        assert time.monotonic() < deadline, f"still {row['state']}"
        time.sleep(0.05)


def stored_rows(gateway: TestClient) -> tuple[int, int]:
    ctx: GatewayContext = gateway.app.state.gateway  # type: ignore[attr-defined]
    with ctx.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(submissions)).scalar_one(),
            conn.execute(select(func.count()).select_from(record_refs)).scalar_one(),
        )


def on_disk(gateway: TestClient) -> dict[str, list[str]]:
    ctx: GatewayContext = gateway.app.state.gateway  # type: ignore[attr-defined]
    return {
        "outbox": sorted(p.name for p in ctx.outbox_dir.iterdir()) if ctx.outbox_dir.exists() else [],
        "work": sorted(p.name for p in ctx.work_dir.iterdir()),
    }


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {row["submission_id"] for row in response.json()["submissions"]}


@pytest.fixture(scope="module")
def submitted(gateway: TestClient) -> dict[str, str]:
    """One dead-lettered submission of A's and one of B's, each sent with its own municipality's credential."""
    found = {}
    for nr in (A, B):
        accepted = submit(gateway, nr, nr)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["municipality"] == nr
        found[nr] = accepted.json()["submission_id"]
        assert settled(gateway, found[nr])["state"] == "dead-letter"
    return found


def test_a_municipality_lists_only_its_own_and_the_operator_all(gateway: TestClient, submitted: dict[str, str]) -> None:
    assert ids(gateway.get("/v1/submissions", headers=as_(A))) == {submitted[A]}
    assert ids(gateway.get("/v1/submissions", headers=as_(B))) == {submitted[B]}
    # Asking for the other municipality by name gets nothing either, not an error that would tell it apart.
    assert ids(gateway.get(f"/v1/submissions?municipality={B}", headers=as_(A))) == set()
    assert ids(gateway.get(f"/v1/submissions?municipality={A}&year={YEAR}", headers=as_(A))) == {submitted[A]}
    assert ids(gateway.get("/v1/submissions", headers=as_("operator"))) >= {submitted[A], submitted[B]}
    assert ids(gateway.get(f"/v1/submissions?municipality={B}", headers=as_("operator"))) == {submitted[B]}


@pytest.mark.parametrize(
    ("method", "template"),
    [("GET", "/v1/submissions/{id}"), ("GET", "/v1/submissions/{id}/report"), ("POST", "/v1/submissions/{id}/retry")],
)
def test_another_municipalitys_submission_is_answered_as_unknown(
    gateway: TestClient, submitted: dict[str, str], method: str, template: str
) -> None:
    before = gateway.get(f"/v1/submissions/{submitted[B]}", headers=as_("operator")).json()
    theirs = gateway.request(method, template.format(id=submitted[B]), headers=as_(A))
    unknown = gateway.request(method, template.format(id=UNKNOWN_ID), headers=as_(A))
    assert theirs.status_code == 404
    not_found = {"type": PROBLEM + "not-found", "title": "No submission with this id", "status": 404}
    assert theirs.json() == unknown.json() == not_found
    assert theirs.headers["content-type"] == unknown.headers["content-type"]
    # Nothing changed for B (a retry would have put it back in the queue).
    assert gateway.get(f"/v1/submissions/{submitted[B]}", headers=as_("operator")).json() == before
    # And its owner does get an answer from the same endpoint (so the 404 above is about who asked).
    own = gateway.request(method, template.format(id=submitted[B]), headers=as_(B))
    assert own.status_code != 404, own.text
    settled(gateway, submitted[B])  # the owner's retry: let its one delivery attempt end before the next test


def test_an_export_for_another_municipality_is_refused_and_nothing_is_queued(
    gateway: TestClient, submitted: dict[str, str]
) -> None:
    rows, files = stored_rows(gateway), on_disk(gateway)
    response = submit(gateway, B, A)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == PROBLEM + "municipality-not-permitted"
    assert response.json()["permitted"] == A
    assert response.json()["municipality"] == B
    # The title itself says which municipality the credential is for, by number and name, and the export's.
    assert f"may submit for municipality {A} ({municipality_name(A, 2025)}) only" in response.json()["title"]
    assert f"the export is for {B}" in response.json()["title"]
    assert TOKENS[A] not in response.text
    assert stored_rows(gateway) == rows
    assert on_disk(gateway) == files
    assert not list(gateway_state(gateway).glob("gateway/work/incoming-*"))
    assert ids(gateway.get("/v1/submissions", headers=as_(A))) == {submitted[A]}


@pytest.mark.parametrize(("export", "who"), [(B, A), (A, A)], ids=["another-municipality", "its-own"])
def test_the_export_is_read_once_and_whose_it_is_checked_once_before_anything_is_sealed(
    gateway: TestClient, submitted: dict[str, str], monkeypatch: pytest.MonkeyPatch, export: str, who: str
) -> None:
    """One parse of the export: the sealing pass hands the header it reads to the use case's permission check,
    before a folder is made or a key used, so an export the caller may not send never reaches a sealer, and
    one it may send is read and checked once, not twice."""
    reads: list[bool] = []
    checks: list[str] = []
    sealers: list[bool] = []
    real_read, real_acts_for, real_sealer = sealing.read_export, Credential.acts_for, sealing.IdentitySealer

    def read_export(*args: Any, **kwargs: Any) -> Any:
        reads.append(True)
        return real_read(*args, **kwargs)

    def acts_for(self: Credential, municipality: str) -> bool:
        checks.append(municipality)
        return real_acts_for(self, municipality)

    def identity_sealer(*args: Any, **kwargs: Any) -> Any:
        sealers.append(True)
        return real_sealer(*args, **kwargs)

    monkeypatch.setattr(sealing, "read_export", read_export)
    monkeypatch.setattr(Credential, "acts_for", acts_for)
    monkeypatch.setattr(sealing, "IdentitySealer", identity_sealer)
    rows, files = stored_rows(gateway), on_disk(gateway)
    response = submit(gateway, export, who)
    assert (reads, checks) == ([True], [export])
    if export != who:
        assert (response.status_code, response.json()["type"]) == (403, PROBLEM + "municipality-not-permitted")
        assert sealers == []
        assert stored_rows(gateway) == rows
        assert on_disk(gateway) == files
    else:
        assert response.status_code == 202, response.text
        assert list(response.json()) == ACCEPTED_FIELDS
        assert response.headers["location"] == response.json()["status_url"]
        assert sealers == [True]
        monkeypatch.undo()
        settled(gateway, response.json()["submission_id"])


def test_the_owner_and_the_operator_retry_and_the_operator_submits_for_any_served_municipality(
    gateway: TestClient, submitted: dict[str, str]
) -> None:
    mine = gateway.post(f"/v1/submissions/{submitted[A]}/retry", headers=as_(A))
    assert (mine.status_code, mine.json()["state"], mine.json()["attempts"]) == (200, "queued", 0)
    assert settled(gateway, submitted[A])["state"] == "dead-letter"
    operator = gateway.post(f"/v1/submissions/{submitted[B]}/retry", headers=as_("operator"))
    assert (operator.status_code, operator.json()["state"]) == (200, "queued")
    assert settled(gateway, submitted[B])["state"] == "dead-letter"
    for nr in (A, B):
        accepted = submit(gateway, nr, "operator")
        assert (accepted.status_code, accepted.json()["municipality"]) == (202, nr)
        settled(gateway, accepted.json()["submission_id"])
        assert accepted.json()["submission_id"] in ids(gateway.get("/v1/submissions", headers=as_(nr)))


def test_the_documents_keep_their_fields_and_the_openapi_schema_shows_them(
    gateway: TestClient, submitted: dict[str, str]
) -> None:
    one = gateway.get(f"/v1/submissions/{submitted[A]}", headers=as_(A)).json()
    assert list(one) == SUBMISSION_FIELDS
    assert (one["receipt"], one["forwarded_at"], one["state"]) == (None, None, "dead-letter")
    listed = gateway.get("/v1/submissions", headers=as_(A)).json()
    assert [list(row) for row in listed["submissions"]] == [SUBMISSION_FIELDS] * len(listed["submissions"])
    openapi = gateway.get("/openapi.json").json()
    schemas = openapi["components"]["schemas"]

    def answer(path: str, method: str, status: str) -> dict[str, Any]:
        reference: str = openapi["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"][
            "$ref"
        ]
        found: dict[str, Any] = schemas[reference.rsplit("/", 1)[1]]
        return found

    assert list(answer("/v1/submissions", "post", "202")["properties"]) == ACCEPTED_FIELDS
    for path, method in [
        ("/v1/submissions/{submission_id}", "get"),
        ("/v1/submissions/{submission_id}/retry", "post"),
        ("/v1/submissions/{submission_id}/confirm-replacement", "post"),
    ]:
        assert list(answer(path, method, "200")["properties"]) == SUBMISSION_FIELDS, path
    assert list(answer("/v1/submissions", "get", "200")["properties"]) == ["submissions"]
    report = answer("/v1/submissions/{submission_id}/report", "get", "200")
    assert list(report["properties"]) == REPORT_FIELDS
    assert next(iter(schemas["Finding"]["properties"])) == "brukerNr"
    assert schemas["SubmissionState"]["enum"] == [
        "queued",
        "forwarded",
        "stored",
        "held",
        "refused",
        "rejected",
        "dead-letter",
    ]


def test_without_a_credentials_file_only_the_health_route_answers(state: Path) -> None:
    with running_gateway(state, "gateway-without-credentials", None) as bare:
        assert (bare.get("/healthz").status_code, bare.get("/healthz").json()) == (200, {"status": "ok"})
        calls = [
            ("POST", "/v1/submissions"),
            ("GET", "/v1/submissions"),
            ("GET", f"/v1/submissions/{UNKNOWN_ID}"),
            ("GET", f"/v1/submissions/{UNKNOWN_ID}/report"),
            ("POST", f"/v1/submissions/{UNKNOWN_ID}/retry"),
        ]
        for method, path in calls:
            for headers in ({}, as_("operator"), as_(A)):
                response = bare.request(method, path, headers=headers)
                assert (response.status_code, response.json()["type"]) == (401, PROBLEM + "unauthenticated"), path
        export = (state / f"{A}.xml").read_bytes()
        refused = bare.post("/v1/submissions", content=export, headers={"Content-Type": "application/xml", **as_(A)})
        assert refused.status_code == 401
        assert stored_rows(bare) == (0, 0)
