"""Persons followed over time at the registry (services.registry_intake.read.flows, issue 14): two years of care in
three municipalities and the population register's extracts of both, stored by pseudonym as the intake stores them,
give exactly the flows the synthetic population's truth says, a D-number replaced by a fødselsnummer keeping one
person. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import html as lxml_html
from sqlalchemy import Engine

from iplos_testkit.population import PopulationFiles, generate_population
from keys.generate import DIRECTORY_FILE, init_keys
from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.registry_intake.api import create_app
from services.registry_intake.config import RegistrySettings
from services.registry_intake.read.flows import FLOW_KINDS, flow_suppression, flows_between_years
from shared.iplos.municipalities import valid_municipalities
from shared.population import read_extract
from tests.badinput.conftest import TestClient, close_log_files, closing_replaced_log_files
from tests.pages import sign_in
from tests.registry.register_data import store
from tests.tls import AsPeer

MUNICIPALITIES = ("0301", "1103", "4601")


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, (2024, 2025), residents=200, seed=21, errors=0.05)


def test_the_flows_between_years_are_the_populations_truth(engine: Engine, population: PopulationFiles) -> None:
    store(engine, population)
    truth = json.loads(population.truth.read_text(encoding="utf-8"))["2025"]
    with engine.connect() as conn:
        found = flows_between_years(conn, 2025)
    assert found == truth
    assert found["national"]["continuing"] > 0
    assert min(found["national"].values()) > 0, "every kind of flow occurs in the data"


def test_without_the_register_a_changed_number_is_a_new_person(engine: Engine, population: PopulationFiles) -> None:
    # The same care data without the register's links: the anchor person (a D-number replaced by a fødselsnummer,
    # reported under each in turn) counts as ended and new, so the counts differ from the truth.
    store(engine, population, register=False)
    truth = json.loads(population.truth.read_text(encoding="utf-8"))["2025"]["national"]
    with engine.connect() as conn:
        unlinked = flows_between_years(conn, 2025)["national"]
    assert unlinked["continuing"] < truth["continuing"]
    assert unlinked["new"] > truth["new"]


OPERATOR_TOKEN = new_token()


@pytest.fixture
def registry_app(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The registry's app on ``engine`` (as tests/registry/test_operator_api.py runs it), an operator's token."""
    keys = tmp_path / "keys"
    init_keys(keys, ["0301"])
    credentials = tmp_path / "credentials.json"
    write_credentials(credentials, [Credential("test-operator", "operator", hash_token(OPERATOR_TOKEN))])
    settings = RegistrySettings(
        key_dir=keys / "registry",
        directory=keys / DIRECTORY_FILE,
        state_dir=tmp_path / "registry",
        database_url=engine.url.render_as_string(hide_password=False),
        credentials_file=credentials,
    )
    signed = threading.Event()

    async def one_checkpoint(self: AuditLog, interval_s: float, **_callbacks: Any) -> None:
        # Sign the start-up checkpoint, then wait to be cancelled: no thread holds a connection at shutdown.
        await asyncio.to_thread(self.checkpoint)
        signed.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(AuditLog, "run_checkpoints", one_checkpoint)
    app = create_app(settings)
    try:
        with (
            closing_replaced_log_files(),
            TestClient(AsPeer(app, keys, "tpf"), base_url="http://registry.test") as client,
        ):
            assert signed.wait(30)
            yield client
    finally:
        close_log_files(tmp_path)


def test_the_operator_api_shows_the_flows_with_small_cells_suppressed(
    engine: Engine, population: PopulationFiles, registry_app: TestClient
) -> None:
    store(engine, population)
    truth = json.loads(population.truth.read_text(encoding="utf-8"))["2025"]

    assert registry_app.get("/v1/operator/years/2025/flows").status_code == 401
    answer = registry_app.get("/v1/operator/years/2025/flows", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["year"], body["previous_year"], body["suppression_threshold"]) == (2025, 2024, 5)
    assert [area["area"] for area in body["areas"]] == ["national", *MUNICIPALITIES]
    shown = {area["area"]: area["flows"] for area in body["areas"]}
    for area, counts in truth.items():
        for kind, count in counts.items():
            assert shown[area][kind] in (None, count), (area, kind)  # a figure shown is the truth
            if 0 < count < 5:
                assert shown[area][kind] is None, (area, kind)
    rule = flow_suppression(truth)
    assert shown == {area: {kind: rule[(area, kind)] for kind in counts} for area, counts in truth.items()}
    assert any(v is None for flows in shown.values() for v in flows.values()), "some cell is small and suppressed"


def test_the_statistics_page_shows_the_flows_as_the_api_does(
    engine: Engine, population: PopulationFiles, registry_app: TestClient
) -> None:
    store(engine, population)
    api = registry_app.get("/v1/operator/years/2025/flows", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert sign_in(registry_app, "/dashboard", OPERATOR_TOKEN).status_code == 303
    page = registry_app.get("/dashboard/statistics?year=2025&lang=en")
    assert page.status_code == 200, page.text[:500]
    html = lxml_html.fromstring(page.text)
    rows = html.xpath('//tr[@data-testid="flows-row"]')
    assert [row.get("data-area") for row in rows] == [area["area"] for area in api.json()["areas"]]
    for row, area in zip(rows, api.json()["areas"], strict=True):
        for kind, count in area["flows"].items():
            [cell] = row.xpath(f'./td[@data-testid="cell-{kind}"]')
            shown = " ".join(cell.text_content().split())
            assert shown.startswith("<5") if count is None else shown == f"{count:,}", (area["area"], kind, shown)
    assert "Oslo" in rows[1].text_content()
    status = html.xpath('string(//*[@data-testid="register-status"])')
    expected = len(valid_municipalities(2025))
    assert " ".join(status.split()).startswith(f"Population register for 2025: the extracts of 3 of {expected}")


def test_the_operator_api_lists_the_register_extracts_of_a_year(
    engine: Engine, population: PopulationFiles, registry_app: TestClient
) -> None:
    store(engine, population)
    answer = registry_app.get("/v1/operator/years/2025/register", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["year"], body["complete"], body["municipalities_expected"]) == (
        2025,
        False,
        len(valid_municipalities(2025)),
    )
    assert [row["municipality"] for row in body["extracts"]] == list(MUNICIPALITIES)
    for row in body["extracts"]:
        with population.registers[(2025, row["municipality"])].open("rb") as handle:
            _, people = read_extract(handle)
            persons = list(people)
        assert (row["persons"], row["numbers"], row["numbers_refused"]) == (
            len(persons),
            sum(len(p.numbers) for p in persons),
            0,
        )
    assert registry_app.get("/v1/operator/years/2025/register").status_code == 401


# -- complementary suppression, on crafted tables ---------------------------------------------------------------


def flows(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in FLOW_KINDS}


def test_a_hidden_cell_is_never_the_only_one_of_an_areas_recipients() -> None:
    # 5001 had 10 + 3 + 8 = 21 recipients, a figure the statistics pages publish: hiding only the 3 new would
    # give it away as 21 - 10 - 8, so the smaller of the two others (8 moved in) goes too.
    counts = {
        "national": flows(continuing=40, new=30, moved_in=20, ended=30, moved_out=20),
        "5001": flows(continuing=10, new=3, moved_in=8, ended=9, moved_out=7),
    }
    counts["4601"] = {kind: counts["national"][kind] - counts["5001"][kind] for kind in FLOW_KINDS}
    shown = flow_suppression(counts)
    assert shown[("5001", "new")] is None  # small
    assert shown[("5001", "moved_in")] is None  # its complement in the year's recipients
    assert shown[("5001", "continuing")] == 10
    # and each hidden cell's column (national = the municipalities' sum) loses a second cell too
    assert shown[("4601", "new")] is None
    assert shown[("4601", "moved_in")] is None
    assert all(v is not None for k, v in shown.items() if k[1] in ("ended", "moved_out", "continuing"))


def test_a_cell_hidden_for_one_group_is_followed_into_the_next() -> None:
    # Hiding moved out (2) hides its complement in the year before's recipients, continuing (6, the smallest above 0
    # of its group); continuing is also in the year's recipients, where it is then the only one hidden: new (7) goes.
    counts = {"5001": flows(continuing=6, new=7, moved_in=9, ended=8, moved_out=2)}
    shown = flow_suppression(counts)
    assert {kind for (_, kind), v in shown.items() if v is None} >= {"moved_out", "continuing", "new"}
    assert shown[("5001", "moved_in")] == 9


@given(
    st.dictionaries(
        st.sampled_from(["national", "0301", "1103", "4601", "5001"]),
        st.fixed_dictionaries({kind: st.integers(0, 30) for kind in FLOW_KINDS}),
        min_size=1,
    )
)
def test_no_group_is_left_with_one_hidden_cell(counts: dict[str, dict[str, int]]) -> None:
    shown = flow_suppression(counts)
    for (area, kind), value in shown.items():
        count = counts[area][kind]
        assert value in (None, count)
        if 0 < count < 5:
            assert value is None
    groups = [[(a, "continuing"), (a, "new"), (a, "moved_in")] for a in counts]
    groups += [[(a, "continuing"), (a, "ended"), (a, "moved_out")] for a in counts]
    groups += [[(a, kind) for a in counts] for kind in FLOW_KINDS]
    for group in (g for g in groups if len(g) > 1):
        assert sum(shown[cell] is None for cell in group) != 1, group
