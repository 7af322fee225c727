"""The registry's read-only operator API (``/v1/operator``): the year overview, statistics, one submission.

The app is the real one (``create_app``) on a database filled by the real storage path
(``SubmissionRepository.store`` with the registry's audit log, as ``service.store_delivery`` calls it); every test
with the ``engine`` fixture runs on SQLite and on PostgreSQL. "Now" is a fixed clock (``app.state.clock``).

The fixtures here are shared with ``test_dashboard.py`` (the pages render from the same functions).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html
from sqlalchemy import Engine

from keys.generate import DIRECTORY_FILE, init_keys
from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.registry_intake import models
from services.registry_intake.api import create_app
from services.registry_intake.config import RegistrySettings
from services.registry_intake.dependencies import COOKIE
from services.registry_intake.read import SUPPRESSION_THRESHOLD, deadline_for, suppress
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import IncomingSubmission, StoredRecord, StoredSubmission
from shared.iplos.controls import control
from shared.iplos.model import Finding
from shared.iplos.municipalities import valid_municipalities
from shared.keys.registry import load_registry_keys
from tests.badinput.conftest import TestClient, close_log_files, closing_replaced_log_files
from tests.pages import sign_in
from tests.tls import AsPeer

from .test_storage import payload_record, pseudonym

YEAR = 2024
#: The deadline for 2024: the end of 28 February 2025, Norwegian time (23:00 UTC).
DUE = dt.datetime(2025, 2, 28, 23, 0, tzinfo=dt.UTC)
BEFORE_DEADLINE = dt.datetime(2025, 2, 20, 12, 0, tzinfo=dt.UTC)
AFTER_DEADLINE = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
OPERATOR_TOKEN = new_token()
AUDITOR_TOKEN = new_token()
MUNICIPALITIES = ["0301", "4601", "5001", "1103"]
PROBLEM = "urn:iplos-chain:problem:"


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


# --- the database -------------------------------------------------------------------------------------------------


def records(
    prefix: str,
    count: int,
    *,
    extra_service: tuple[int, ...] = (),
    refused: tuple[int, ...] = (),
    findings: dict[str, tuple[int, ...]] | None = None,
) -> list[StoredRecord]:
    """``count`` persons with services of types 6 and 15; those at ``extra_service`` also have type 21; those
    at ``refused`` had their identity refused by the TPF; ``findings`` maps a control code to the persons
    (indexes) with that finding."""
    out: list[StoredRecord] = []
    for i in range(count):
        ref = f"{prefix}-{i:05d}"
        record = payload_record(ref, n_services=3 if i in extra_service else 2)
        found = tuple(
            Finding(code, ref, "funksjon[1].skaar", f"skår {i}")
            for code, persons in (findings or {}).items()
            if i in persons
        )
        if i in refused:
            out.append((record, None, "invalid-check-digits", (Finding("K005", ref, "fid", "avvist: feil"), *found)))
        else:
            out.append((record, pseudonym(ref), "ok", found))
    return out


@dataclass
class Filled:
    """What the database holds after ``fill``: the submissions by name."""

    ids: dict[str, str] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)


def _store(
    repo: SubmissionRepository,
    municipality: str,
    sequence: int,
    received_at: dt.datetime,
    stored_records: list[StoredRecord],
    submission_findings: tuple[Finding, ...] = (),
    *,
    bydel_nr: str | None = None,
) -> StoredSubmission:
    incoming = IncomingSubmission(
        message_id=str(uuid.uuid4()),
        municipality=municipality,
        year=YEAR,
        sequence=sequence,
        sender=f"kommune-{municipality}",
        header_sha256="a" * 64,
        payload_sha256="b" * 64,
        pseudonym_key_version=1,
        received_at=received_at,
        bydel_nr=bydel_nr,
        pseudonyms_sha256="c" * 64,
        delivery_sha256="d" * 64,
    )
    return repo.store(
        incoming,
        stored_records,
        submission_findings,
        severity_of=lambda code: str(control(code).severity),
    )


def fill(engine: Engine, key_dir: Path) -> Filled:
    """The scenario every test reads (reporting year 2024):

    * 0301 Oslo: three submissions, each replacing the one before; the active one came after the deadline
      (late), 12 persons, K013 for 6 of them and K009 for 2 (a small cell across municipalities);
    * 4601 Bergen: 20 persons on time, 3 of them with service type 21 (a small cell), no findings;
    * 5001 Trondheim: 3 persons on time (its record count is a small cell), one identity refused (K005);
    * 1507 (Ålesund's number before 2024, not valid in 2024): one submission, K001 on the header;
    * 1103 Stavanger and every other municipality: nothing (missing).
    """
    keys = load_registry_keys(key_dir / "registry")
    audit = AuditLog(engine, models.audit, service="registry", log_name=keys.party, signing_key=keys.signing)
    repo = SubmissionRepository(engine, audit=audit)
    filled = Filled()
    first = _store(repo, "0301", 1, at("2025-01-10"), records("oslo1", 10, findings={"K013": tuple(range(8))}))
    second = _store(repo, "0301", 2, at("2025-02-01"), records("oslo2", 11, findings={"K013": tuple(range(7))}))
    filled.ids["oslo_first"], filled.ids["oslo_second"] = first.message_id, second.message_id
    oslo = _store(
        repo,
        "0301",
        3,
        at("2025-03-05"),
        records("oslo3", 12, findings={"K013": (0, 1, 2, 3, 4, 5), "K009": (7, 8)}),
        bydel_nr="030101",
    )
    filled.ids["oslo"] = oslo.message_id
    filled.refs = [f"oslo3-{i:05d}" for i in range(12)]
    filled.ids["bergen"] = _store(
        repo, "4601", 1, at("2025-02-10"), records("bergen", 20, extra_service=(0, 1, 2))
    ).message_id
    filled.ids["trondheim"] = _store(repo, "5001", 1, at("2025-02-11"), records("trd", 3, refused=(2,))).message_id
    filled.ids["alesund"] = _store(
        repo,
        "1507",
        1,
        at("2025-02-12"),
        records("aal", 6),
        (Finding("K001", None, "kommuneNr", "1507 finnes ikke i 2024"),),
    ).message_id
    audit.checkpoint()  # the entries so far are covered by a signed checkpoint
    return filled


# --- the app ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def registry_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-keys") / "keys"
    init_keys(folder, MUNICIPALITIES)
    return folder


@dataclass
class Clock:
    now: dt.datetime = AFTER_DEADLINE

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Registry:
    client: TestClient
    clock: Clock
    filled: Filled
    engine: Engine

    def get(self, path: str, token: str | None = OPERATOR_TOKEN, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, headers=headers, **kwargs)


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def registry(
    engine: Engine, registry_key_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """The registry's app on the filled database, with an operator's and an auditor's token."""
    filled = fill(engine, registry_key_dir)
    credentials = tmp_path / "credentials.json"
    write_credentials(
        credentials,
        [
            Credential("test-operator", "operator", hash_token(OPERATOR_TOKEN)),
            Credential("test-auditor", "auditor", hash_token(AUDITOR_TOKEN)),
        ],
    )
    settings = RegistrySettings(
        key_dir=registry_key_dir / "registry",
        directory=registry_key_dir / DIRECTORY_FILE,
        state_dir=tmp_path / "registry",
        database_url=database_url(engine),
        credentials_file=credentials,
    )
    # The app signs a checkpoint in a worker thread as it starts; a test that ends within milliseconds would
    # shut the app down (and dispose its engine) while that thread still holds a connection. Sign the one
    # checkpoint, say so, then wait to be cancelled: the tests start only after it.
    signed = threading.Event()

    async def one_checkpoint(self: AuditLog, interval_s: float, **_callbacks: Any) -> None:
        await asyncio.to_thread(self.checkpoint)
        signed.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(AuditLog, "run_checkpoints", one_checkpoint)
    app = create_app(settings)
    clock = Clock()
    app.state.clock = clock
    try:
        # Over TLS from the TPF's certificate (tests/tls.py): what it sends is taken, and nobody reads as it.
        peer = AsPeer(app, registry_key_dir, "tpf")
        with closing_replaced_log_files(), TestClient(peer, base_url="http://registry.test") as client:
            assert signed.wait(30)
            yield Registry(client, clock, filled, engine)
    finally:
        close_log_files(tmp_path)


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + slug
    return body


def overview(registry: Registry, query: str = "", token: str = OPERATOR_TOKEN) -> dict[str, Any]:
    response = registry.get(f"/v1/operator/years/{YEAR}/overview{query}", token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows_by_number(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["municipality"]: row for row in document["municipalities"]}


# --- the small-cell rule -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persons", "shown"), [(0, 0), (1, None), (4, None), (5, 5), (6, 6), (1000, 1000)])
def test_person_counts_below_five_are_suppressed(persons: int, shown: int | None) -> None:
    assert SUPPRESSION_THRESHOLD == 5
    assert suppress(persons) == shown


def test_a_negative_person_count_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not negative"):
        suppress(-1)


def test_the_deadline_is_the_end_of_february_of_the_next_year_in_norwegian_time() -> None:
    deadline = deadline_for(2024)
    assert (deadline.last_day, deadline.due) == (dt.date(2025, 2, 28), DUE)
    assert deadline_for(2027).last_day == dt.date(2028, 2, 29)  # a leap year
    assert deadline.is_late(DUE)
    assert not deadline.is_late(DUE - dt.timedelta(seconds=1))
    assert deadline.days_left(BEFORE_DEADLINE) == 8
    assert deadline.days_left(dt.datetime(2025, 2, 28, 22, 59, tzinfo=dt.UTC)) == 0  # 23:59 in Oslo
    assert deadline.days_left(AFTER_DEADLINE) == -10


# --- who may read ---------------------------------------------------------------------------------------------------

API_PATHS = [
    "/v1/operator/years",
    f"/v1/operator/years/{YEAR}/overview",
    f"/v1/operator/years/{YEAR}/intake",
    f"/v1/operator/years/{YEAR}/findings-by-rule",
    f"/v1/operator/years/{YEAR}/records-per-service-type",
    f"/v1/operator/years/{YEAR}/comparison",
    "/v1/operator/submissions/{oslo}",
    "/v1/operator/submissions/{oslo}/findings",
]


@pytest.mark.parametrize("path", API_PATHS)
def test_every_operator_endpoint_needs_a_credential(registry: Registry, path: str) -> None:
    path = path.format(**registry.filled.ids)
    assert_problem(registry.get(path, token=None), 401, "unauthenticated")
    assert_problem(registry.get(path, token="iplos_not-a-known-token"), 401, "unauthenticated")
    registry.client.cookies.set(COOKIE, "iplos_not-a-known-token")
    assert_problem(registry.get(path, token=None), 401, "unauthenticated")
    registry.client.cookies.set(COOKIE, OPERATOR_TOKEN)  # a token is no session id
    assert_problem(registry.get(path, token=None), 401, "unauthenticated")
    registry.client.cookies.clear()


@pytest.mark.parametrize("path", API_PATHS)
def test_an_operator_reads_every_endpoint_by_bearer_token_or_by_the_sign_in_cookie(
    registry: Registry, path: str
) -> None:
    path = path.format(**registry.filled.ids)
    by_header = registry.get(path)
    assert by_header.status_code == 200, by_header.text
    assert sign_in(registry.client, "/dashboard", OPERATOR_TOKEN).status_code == 303
    by_cookie = registry.get(path, token=None)
    registry.client.cookies.clear()
    assert by_cookie.json() == by_header.json()


@pytest.mark.parametrize(
    "path", [f"/v1/operator/years/{YEAR}/findings-by-rule", "/v1/operator/submissions/{oslo}/findings"]
)
def test_an_auditor_gets_no_findings_detail(registry: Registry, path: str) -> None:
    assert_problem(registry.get(path.format(**registry.filled.ids), AUDITOR_TOKEN), 403, "forbidden")


def test_an_auditor_reads_a_submission_without_its_findings_but_with_counts_receipt_and_audit_trail(
    registry: Registry,
) -> None:
    oslo = registry.filled.ids["oslo"]
    as_auditor = registry.get(f"/v1/operator/submissions/{oslo}", AUDITOR_TOKEN).json()
    as_operator = registry.get(f"/v1/operator/submissions/{oslo}").json()
    assert as_auditor["findings_withheld"] is True
    assert as_auditor["findings_by_rule"] is None
    assert as_operator["findings_withheld"] is False
    assert as_operator["findings_by_rule"]
    for key in ("submission", "history", "receipt", "audit_trail"):
        assert as_auditor[key] == as_operator[key]
    assert as_auditor["submission"]["findings"] == 8  # counts stay
    # The year's counts and records per service type are counts: an auditor reads them.
    assert overview(registry, token=AUDITOR_TOKEN)["counts"] == overview(registry)["counts"]
    services = registry.get(f"/v1/operator/years/{YEAR}/records-per-service-type", AUDITOR_TOKEN)
    assert services.status_code == 200


def test_the_operator_api_is_in_the_openapi_schema_and_the_pages_are_not(registry: Registry) -> None:
    paths = registry.client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/operator/years",
        "/v1/operator/years/{year}/overview",
        "/v1/operator/years/{year}/intake",
        "/v1/operator/years/{year}/findings-by-rule",
        "/v1/operator/years/{year}/records-per-service-type",
        "/v1/operator/submissions/{submission_id}",
        "/v1/operator/submissions/{submission_id}/findings",
    ):
        assert set(paths[path]) == {"get"}, path  # read-only
    assert not [p for p in paths if p.startswith("/dashboard")]


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/v1/operator/years/1999/overview", 422, "invalid-request"),
        ("/v1/operator/years/2101/overview", 422, "invalid-request"),
        (f"/v1/operator/years/{YEAR}/overview?status=bogus", 422, "invalid-request"),
        (f"/v1/operator/years/{YEAR}/overview?sort=pseudonym", 422, "invalid-request"),
        ("/v1/operator/submissions/not-a-uuid", 404, "not-found"),
        ("/v1/operator/submissions/00000000-0000-4000-8000-000000000000", 404, "not-found"),
        ("/v1/operator/submissions/12345678901", 404, "not-found"),
        ("/v1/operator/submissions/00000000-0000-4000-8000-000000000000/findings", 404, "not-found"),
        ("/v1/operator/submissions/{oslo}/findings?rule=x", 422, "invalid-request"),
    ],
)
def test_bad_requests_are_problem_documents(registry: Registry, path: str, status: int, slug: str) -> None:
    body = assert_problem(registry.get(path.format(**registry.filled.ids)), status, slug)
    assert "12345678901" not in str(body)


# --- the year overview ----------------------------------------------------------------------------------------------


def test_the_overview_lists_exactly_the_valid_municipalities_of_the_year_with_their_status(registry: Registry) -> None:
    document = overview(registry)
    rows = rows_by_number(document)
    assert set(rows) == set(valid_municipalities(YEAR))
    assert len(document["municipalities"]) == document["counts"]["expected"] == 357
    assert [r["municipality"] for r in document["municipalities"]] == sorted(rows)
    ids = registry.filled.ids
    oslo, bergen, trondheim = rows["0301"], rows["4601"], rows["5001"]
    assert (oslo["name"], oslo["status"], oslo["submission_id"], oslo["sequence"]) == (
        "Oslo",
        "findings",
        ids["oslo"],
        3,
    )
    assert (oslo["records"], oslo["findings"], oslo["errors"], oslo["warnings"], oslo["replaced"]) == (12, 8, 6, 2, 2)
    assert oslo["received_at"] == "2025-03-05T10:00:00Z"
    assert (bergen["status"], bergen["records"], bergen["findings"], bergen["replaced"]) == ("received", 20, 0, 0)
    # 3 persons: a small cell, suppressed; its one refused identity is a K005 finding.
    assert (trondheim["status"], trondheim["records"], trondheim["records_suppressed"]) == ("findings", None, True)
    assert rows["1103"] | {"overdue": None} == {
        "municipality": "1103",
        "name": "Stavanger",
        "status": "missing",
        "submission_id": None,
        "sequence": None,
        "received_at": None,
        "records": None,
        "records_suppressed": False,
        "findings": None,
        "errors": None,
        "warnings": None,
        "replaced": 0,
        "refused": 0,
        "late": False,
        "held": None,
        "never_resident": None,
        "overdue": None,
    }
    # Records of persons who never lived in the municipality (K040, issue 17): none without the register, and only
    # an operator is told so; an auditor gets null.
    assert (oslo["never_resident"], bergen["never_resident"]) == (0, 0)
    assert {r["never_resident"] for r in overview(registry, token=AUDITOR_TOKEN)["municipalities"]} == {None}
    # 1507 is not valid in 2024: not a row, but named as unexpected.
    assert document["unexpected"] == [{"municipality": "1507", "submissions": 1, "active": True}]
    assert (document["records_total"], document["records_total_suppressed"]) == (35, False)


def test_the_counts_on_top_after_the_deadline(registry: Registry) -> None:
    registry.clock.now = AFTER_DEADLINE
    document = overview(registry)
    assert document["counts"] == {
        "expected": 357,
        "received": 3,
        "missing": 354,
        "with_findings": 2,
        "replaced": 1,
        "held": 0,
        "late": 1,
        "overdue": 354,
    }
    assert document["deadline"] == {
        "last_day": "2025-02-28",
        "due": "2025-02-28T23:00:00Z",
        "days_left": -10,
        "passed": True,
    }
    rows = rows_by_number(document)
    assert rows["0301"]["late"] is True
    assert rows["4601"]["late"] is False
    assert rows["1103"]["overdue"] is True
    assert rows["0301"]["overdue"] is False


def test_before_the_deadline_nothing_is_overdue_and_the_days_left_count_down(registry: Registry) -> None:
    registry.clock.now = BEFORE_DEADLINE
    document = overview(registry)
    assert document["counts"]["overdue"] == 0
    assert document["deadline"]["days_left"] == 8
    assert document["deadline"]["passed"] is False
    assert document["now"] == "2025-02-20T12:00:00Z"
    # Late is about when a submission came, not about today.
    assert rows_by_number(document)["0301"]["late"] is True


def test_the_default_year_is_the_one_being_collected_whatever_year_has_data(registry: Registry) -> None:
    # March 2025: 2024 is the year being reported (and the one with data).
    assert registry.get("/v1/operator/years").json() == {"years": [YEAR], "default": YEAR}
    # January 2026: 2025 is being reported, though nothing for it has come yet; 2024's data stay listed.
    registry.clock.now = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
    try:
        assert registry.get("/v1/operator/years").json() == {"years": [YEAR], "default": YEAR + 1}
        # A stray early submission for the year in progress would not move it: the year in progress is 2026.
        registry.clock.now = dt.datetime(2026, 12, 30, 9, 0, tzinfo=dt.UTC)
        assert registry.get("/v1/operator/years").json()["default"] == YEAR + 1
    finally:
        registry.clock.now = AFTER_DEADLINE


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=missing&q=1103", ["1103"]),
        ("?status=received", ["4601"]),
        ("?status=findings", ["0301", "5001"]),
        ("?status=replaced", ["0301"]),
        ("?status=late", ["0301"]),
        ("?q=berg", ["1127", "3303", "3334", "3905", "4601"]),
        ("?q=BERGEN", ["4601"]),
        ("?q=030", ["0301"]),
        ("?q=trond&status=findings", ["5001"]),
        ("?q=trond&status=missing", []),
    ],
)
def test_the_overview_filters(registry: Registry, query: str, expected: list[str]) -> None:
    document = overview(registry, query)
    assert [row["municipality"] for row in document["municipalities"]] == expected
    assert document["shown"] == len(expected)
    assert document["counts"]["expected"] == 357  # the counts cover every municipality


def test_the_overview_sorts_by_any_column(registry: Registry) -> None:
    def order(query: str) -> list[str]:
        received = [r for r in overview(registry, query)["municipalities"] if r["status"] != "missing"]
        return [r["municipality"] for r in received]

    assert order("?sort=received&order=desc") == ["0301", "5001", "4601"]
    assert order("?sort=received") == ["4601", "5001", "0301"]
    assert order("?sort=findings&order=desc") == ["0301", "5001", "4601"]
    # The suppressed count (3 persons) sorts below 5, never by its hidden value.
    assert order("?sort=records") == ["5001", "0301", "4601"]
    assert order("?sort=replaced&order=desc")[0] == "0301"
    # Rows with nothing in the column (nothing received) come last in either order.
    for query in ("?sort=records&order=desc", "?sort=received", "?sort=findings&order=desc"):
        rows = overview(registry, query)["municipalities"]
        assert [r["status"] != "missing" for r in rows[:3]] == [True] * 3, query
        assert rows[-1]["status"] == "missing"
    names = [r["name"] for r in overview(registry, "?sort=name")["municipalities"]]
    assert names.index("Vågå") < names.index("Øygarden") < names.index("Ål") < names.index("Åsnes")  # z < æ < ø < å
    statuses = [r["status"] for r in overview(registry, "?sort=status")["municipalities"]]
    assert statuses == sorted(statuses, key=["missing", "findings", "received"].index)


def test_a_year_without_submissions_lists_every_municipality_as_missing(registry: Registry) -> None:
    response = registry.get("/v1/operator/years/2021/overview")
    document = response.json()
    assert document["counts"]["expected"] == 356 == document["counts"]["missing"]  # the 2020-2023 list
    assert document["records_total"] == 0


# --- statistics ---------------------------------------------------------------------------------------------------


def test_intake_per_day(registry: Registry) -> None:
    document = registry.get(f"/v1/operator/years/{YEAR}/intake").json()
    assert document["expected"] == 357
    assert document["deadline"] == "2025-02-28"
    assert [
        (d["day"], d["submissions"], d["first_submissions"], d["municipalities_so_far"], d["after_deadline"])
        for d in document["days"]
    ] == [
        ("2025-01-10", 1, 1, 1, False),
        ("2025-02-01", 1, 0, 1, False),
        ("2025-02-10", 1, 1, 2, False),
        ("2025-02-11", 1, 1, 3, False),
        ("2025-02-12", 1, 0, 3, False),  # 1507 is not a municipality of 2024
        ("2025-03-05", 1, 0, 3, True),
    ]


def test_findings_by_rule_suppresses_small_cells(registry: Registry) -> None:
    document = registry.get(f"/v1/operator/years/{YEAR}/findings-by-rule").json()
    rules = {rule["code"]: rule for rule in document["rules"]}
    assert set(rules) >= {f"K{n:03d}" for n in range(1, 32)}
    k013 = rules["K013"]
    assert (k013["findings"], k013["persons"], k013["submissions"], k013["municipalities"]) == (6, 6, 1, 1)
    assert k013["suppressed"] is False
    assert k013["title"] == control("K013").title
    # 41 records in the active submissions (12 + 20 + 3 + 6): 6 of them with K013.
    assert k013["rate"] == round(600 / 41, 2)
    for code in ("K009", "K005"):  # 2 persons and 1 person
        assert rules[code] | {"code": None, "title": None, "rule": None, "severity": None, "scope": None} == {
            "code": None,
            "title": None,
            "rule": None,
            "severity": None,
            "scope": None,
            "findings": None,
            "persons": None,
            "rate": None,
            "submissions": 1,
            "municipalities": 1,
            "suppressed": True,
        }
    # A rule about the header counts submissions, not persons: not suppressed.
    k001 = rules["K001"]
    assert (k001["findings"], k001["persons"], k001["submissions"], k001["suppressed"]) == (1, None, 1, False)
    assert k001["rate"] == 25.0  # 1 of the 4 active submissions
    assert rules["K020"]["findings"] == 0
    assert rules["K020"]["suppressed"] is False


def test_records_per_service_type_suppresses_small_cells(registry: Registry) -> None:
    document = registry.get(f"/v1/operator/years/{YEAR}/records-per-service-type").json()
    by_type = {row["service_type"]: row for row in document["service_types"]}
    # Types 6 and 15 for everyone active (12 + 20 + 3 + 6 persons); type 21 for three persons in Bergen.
    assert (by_type[6]["persons"], by_type[6]["services"], by_type[6]["name"]) == (41, 41, "trygghetsalarm")
    assert by_type[15]["persons"] == 41
    assert by_type[21] == {
        "service_type": 21,
        "name": "langtidsopphold",
        "persons": None,
        "services": None,
        "suppressed": True,
    }
    assert document["suppression_threshold"] == 5


# --- one submission -----------------------------------------------------------------------------------------------


def test_a_submission_in_full(registry: Registry) -> None:
    ids = registry.filled.ids
    document = registry.get(f"/v1/operator/submissions/{ids['oslo']}").json()
    submission = document["submission"]
    assert {k: submission[k] for k in ("municipality", "name", "year", "sequence", "status", "sender", "bydel_nr")} == {
        "municipality": "0301",
        "name": "Oslo",
        "year": YEAR,
        "sequence": 3,
        "status": "active",
        "sender": "kommune-0301",
        "bydel_nr": "030101",
    }
    assert (submission["records"], submission["pseudonymised"], submission["identities_refused"]) == (12, 12, 0)
    assert (submission["findings"], submission["errors"], submission["warnings"]) == (8, 6, 2)
    assert submission["late"] is True
    assert document["deadline"] == "2025-02-28"
    assert [(r["code"], r["severity"], r["findings"], r["records"]) for r in document["findings_by_rule"]] == [
        ("K009", "warning", 2, 2),
        ("K013", "error", 6, 6),
    ]
    assert document["findings_by_rule"][1]["title"] == control("K013").title
    assert document["findings_by_rule"][1]["rule"] == control("K013").rule
    # The replacement chain of the municipality and year, in the order received.
    history = document["history"]
    assert [(h["submission_id"], h["status"], h["supersedes"], h["superseded_by"]) for h in history] == [
        (ids["oslo_first"], "superseded", None, ids["oslo_second"]),
        (ids["oslo_second"], "superseded", ids["oslo_first"], ids["oslo"]),
        (ids["oslo"], "active", ids["oslo_second"], None),
    ]
    assert [h["this"] for h in history] == [False, False, True]
    assert [h["late"] for h in history] == [False, False, True]
    # The signed receipt, as the registry issues it.
    receipt = document["receipt"]["receipt"]
    assert (receipt["message_id"], receipt["status"], receipt["records_stored"], receipt["supersedes"]) == (
        ids["oslo"],
        "stored",
        12,
        ids["oslo_second"],
    )
    assert document["receipt"]["signature"]


def test_a_submissions_audit_trail_is_proved_against_the_signed_checkpoint(registry: Registry) -> None:
    ids = registry.filled.ids
    trail = registry.get(f"/v1/operator/submissions/{ids['oslo_second']}").json()["audit_trail"]
    assert trail["log"] == "registry"
    assert trail["checkpoint"]["tree_size"] >= 2
    assert [e["event"] for e in trail["entries"]] == ["stored", "superseded"]
    assert all(e["in_checkpoint"] and e["proof_verified"] for e in trail["entries"])
    stored = trail["entries"][0]["facts"]
    assert (stored["records"], stored["sequence"], stored["supersedes"]) == (11, 2, ids["oslo_first"])
    assert trail["entries"][1]["facts"]["superseded_by"] == ids["oslo"]


def test_a_replaced_submission_keeps_its_counts_and_has_no_findings_left(registry: Registry) -> None:
    first = registry.get(f"/v1/operator/submissions/{registry.filled.ids['oslo_first']}").json()
    assert first["submission"]["status"] == "superseded"
    assert (first["submission"]["records"], first["submission"]["findings"]) == (10, 8)
    assert first["findings_by_rule"] == []


def test_a_submissions_findings_record_by_record(registry: Registry) -> None:
    oslo = registry.filled.ids["oslo"]
    everything = registry.get(f"/v1/operator/submissions/{oslo}/findings").json()
    assert everything["total"] == 8
    assert len(everything["findings"]) == 8
    k009 = registry.get(f"/v1/operator/submissions/{oslo}/findings?rule=K009").json()
    assert [(f["ref"], f["code"], f["severity"]) for f in k009["findings"]] == [
        ("oslo3-00007", "K009", "warning"),
        ("oslo3-00008", "K009", "warning"),
    ]
    page = registry.get(f"/v1/operator/submissions/{oslo}/findings?offset=6&limit=5").json()
    assert (page["total"], len(page["findings"])) == (8, 2)


def test_a_held_submission_is_shown_and_counted_while_the_active_one_stays(registry: Registry) -> None:
    repo = SubmissionRepository(registry.engine)
    incoming = IncomingSubmission(
        message_id=str(uuid.uuid4()),
        municipality="4601",
        year=YEAR,
        sequence=2,
        sender="kommune-4601",
        header_sha256="e" * 64,
        payload_sha256="f" * 64,
        pseudonym_key_version=1,
        received_at=at("2025-03-01"),
        declared_records=5,
    )
    held = repo.store(incoming, records("bergen-cut", 5), hold_below=0.5)  # 5 of Bergen's 20
    assert held.status == "held"

    document = overview(registry)
    rows = {row["municipality"]: row for row in document["municipalities"]}
    bergen = rows["4601"]
    assert (bergen["status"], bergen["submission_id"], bergen["records"]) == (
        "received",
        registry.filled.ids["bergen"],
        20,
    )
    assert bergen["held"] == held.message_id
    assert rows["0301"]["held"] is None
    assert document["counts"]["held"] == 1

    from .test_dashboard import page, signed_in  # the dashboard's own helpers (sign-in cookie)

    shown = lxml_html.fromstring(page(signed_in(registry), f"/dashboard?year={YEAR}&lang=en"))
    labels = shown.xpath('//tr[@data-municipality="4601"]//*[@data-testid="held-label"]')
    assert [label.text_content() for label in labels] == ["Awaiting confirmation"]
    assert not shown.xpath('//tr[@data-municipality="0301"]//*[@data-testid="held-label"]')
    assert shown.xpath('string(//*[@data-testid="count-held"]/@data-value)') == "1"
    # And it is listed among the year's submissions waiting or stopped at the registry, with its age.
    waiting = shown.xpath('//tr[@data-testid="waiting-row"]')
    assert [(row.get("data-submission"), row.get("data-status")) for row in waiting] == [(held.message_id, "held")]
