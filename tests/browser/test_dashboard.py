"""The registry's operator dashboard (and the gateway's pages) in Debian's Chromium, headless, after a
demo-like run: sign-in, the year overview and a submission's findings against the operator API, the charts,
both languages, the keyboard. A screenshot of each page goes to test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from iplos_chain import client
from iplos_testkit.faults import inject_faults
from iplos_testkit.generator import generate_export, generate_records
from iplos_testkit.schema_faults import SCHEMA_FAULTS, spread_faults
from iplos_testkit.writer import write_export
from services.kit.web import FORM_TOKEN_FIELD, HOST_PREFIX
from services.registry_intake.dashboard.pages import UI as DASHBOARD_UI
from shared.iplos.municipalities import valid_municipalities
from tests.browser.conftest import CORRECTED, YEAR, DemoRun

pytestmark = pytest.mark.browser
Screenshot = Callable[[Page, str], Path]

DASHBOARD = "/dashboard"
SIGN_IN = "/dashboard/sign-in"
COOKIE = HOST_PREFIX + DASHBOARD_UI.cookie  # the registry's session cookie (over https: __Host- prefixed)


def _api(run: DemoRun, path: str) -> dict[str, Any]:
    """The registry's operator JSON API, with the operator's bearer token."""
    return client.get_json(f"{run.registry}{path}", run.operator_token)


def _sign_in(page: Page, base: str, token: str, path: str = SIGN_IN) -> None:
    page.goto(f"{base}{path}")
    page.get_by_test_id("sign-in-token").fill(token)
    page.get_by_test_id("sign-in-submit").click()
    page.wait_for_load_state()


def _path(page: Page) -> str:
    return urlsplit(page.url).path


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values]


@pytest.fixture
def operator_page(page: Page, demo_run: DemoRun) -> Page:
    """The browser signed in with the operator's token, through the sign-in form."""
    _sign_in(page, demo_run.registry, demo_run.operator_token)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    return page


# --- sign-in -----------------------------------------------------------------------------------------------------


def test_the_overview_redirects_to_sign_in(page: Page, demo_run: DemoRun, screenshot: Screenshot) -> None:
    response = page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    assert response is not None
    assert response.status == 200  # after the 303
    assert _path(page) == SIGN_IN
    assert parse_qs(urlsplit(page.url).query)["next"] == [f"{DASHBOARD}?year={YEAR}"]
    expect(page.get_by_test_id("sign-in-form")).to_be_visible()
    expect(page.get_by_test_id("overview-table")).to_have_count(0)
    assert page.get_by_test_id("sign-in-token").get_attribute("type") == "password"
    screenshot(page, "sign-in")
    # The pages' JSON behind them answers 401 without a credential, not a page.
    unauthenticated = httpx.get(f"{demo_run.registry}/v1/operator/years/{YEAR}/overview", timeout=10)
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize("token", ["not-a-token", "municipality"], ids=["unknown", "a-municipality-s"])
def test_a_wrong_token_is_refused(page: Page, demo_run: DemoRun, screenshot: Screenshot, token: str) -> None:
    # A municipality's token belongs to the gateway: the registry does not know it.
    wrong = demo_run.chain.municipality_token("0301") if token == "municipality" else token
    page.goto(f"{demo_run.registry}{SIGN_IN}")
    page.get_by_test_id("sign-in-token").fill(wrong)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_test_id("sign-in-submit").click()
    assert posted.value.status == 401
    expect(page.get_by_test_id("sign-in-error")).to_be_visible()
    assert page.get_by_test_id("sign-in-token").get_attribute("aria-invalid") == "true"
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    if token == "not-a-token":
        screenshot(page, "sign-in-refused")
    page.goto(f"{demo_run.registry}{DASHBOARD}")
    assert _path(page) == SIGN_IN


def test_the_operator_token_signs_in_and_out(page: Page, demo_run: DemoRun) -> None:
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")  # to the sign-in page, and back after it
    page.get_by_test_id("sign-in-token").fill(demo_run.operator_token)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("overview-heading")).to_be_visible()
    assert _path(page) == DASHBOARD
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("operatør")
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["expires"] == -1  # a session cookie: gone with the browser, and ended sooner by the registry
    assert cookie["value"] != demo_run.operator_token  # a session id: the token is not kept in the browser
    assert COOKIE not in page.evaluate("document.cookie")  # out of reach of any script on the page
    # A copy of the cookie (taken from this browser, say) reads the operator API while the session lives...
    overview = f"{demo_run.registry}/v1/operator/years/{YEAR}/overview"
    copied = {"Cookie": f"{COOKIE}={cookie['value']}"}
    assert httpx.get(overview, headers=copied, timeout=10).status_code == 200

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    assert _path(page) == SIGN_IN
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    page.goto(f"{demo_run.registry}{DASHBOARD}")
    assert _path(page) == SIGN_IN
    # ...and nothing once signed out: the session is gone at the registry, not only from this browser.
    assert httpx.get(overview, headers=copied, timeout=10).status_code == 401


def test_a_sign_in_posted_from_another_page_is_refused(page: Page, demo_run: DemoRun) -> None:
    """Login CSRF as Chromium itself sends it: a page elsewhere (here an opaque origin: Origin null, Sec-Fetch-Site
    cross-site) posts a sign-in form with a valid token to the registry. Refused, and no session comes of it."""
    page.set_content(
        f'<form method="post" action="{demo_run.registry}{SIGN_IN}">'
        f'<input name="token" value="{demo_run.operator_token}">'
        f'<input name="{FORM_TOKEN_FIELD}" value="guessed"><button id="go">go</button></form>'
    )
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#go")
    assert posted.value.status == 403
    expect(page.get_by_test_id("sign-in-error")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]


# --- the year overview -------------------------------------------------------------------------------------------


def test_the_overview_shows_the_year_s_municipalities_and_the_demo_s_submissions(
    operator_page: Page, demo_run: DemoRun, screenshot: Screenshot
) -> None:
    page = operator_page
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    expect(page.get_by_test_id("overview-heading")).to_contain_text(str(YEAR))
    api = _api(demo_run, f"/v1/operator/years/{YEAR}/overview")
    rows = page.get_by_test_id("overview-row")

    # Exactly the municipalities valid that year, in number order, as the API lists them.
    shown = [row.get_attribute("data-municipality") for row in rows.all()]
    assert shown == sorted(valid_municipalities(YEAR))
    assert shown == [m["municipality"] for m in api["municipalities"]]
    assert int(page.get_by_test_id("shown-count").get_attribute("data-value") or "") == len(shown)

    # Every row's status and counts as the API has them.
    page_rows = rows.evaluate_all(
        """rows => rows.map(r => ({
            municipality: r.dataset.municipality, status: r.dataset.status, replaced: Number(r.dataset.replaced),
            submission: r.dataset.submission || null,
            findings: r.querySelector('[data-testid=cell-findings]').textContent.trim(),
            name: r.querySelector('[data-testid=cell-name]').textContent.trim(),
        }))"""
    )
    for seen, expected in zip(page_rows, api["municipalities"], strict=True):
        assert seen == {
            "municipality": expected["municipality"],
            "status": expected["status"],
            "replaced": expected["replaced"],
            "submission": expected["submission_id"],
            "findings": "–" if expected["findings"] is None else f"{expected['findings']:,}".replace(",", "\u00a0"),
            "name": expected["name"],
        }

    # The demo's four municipalities: each its active submission (the registry's own list agrees), the
    # corrected one replaced once and without findings now, the others with the findings injected.
    registry = {s["municipality"]: s for s in demo_run.registry_submissions() if s["status"] == "active"}
    active = demo_run.active()
    assert set(registry) == set(active)
    for nr, submitted in active.items():
        row = page.locator(f"[data-testid=overview-row][data-municipality='{nr}']")
        assert row.get_attribute("data-submission") == submitted.submission_id == registry[nr]["submission_id"]
        assert row.get_by_test_id("cell-findings").inner_text() == str(registry[nr]["findings"])
        assert registry[nr]["findings"] == sum(submitted.faults.values())
        if nr == CORRECTED:
            assert row.get_attribute("data-status") == "received"
            assert row.get_attribute("data-replaced") == "1"
            expect(row.get_by_test_id("replaced-label")).to_be_visible()
        else:
            assert row.get_attribute("data-status") == "findings"
            assert row.get_attribute("data-replaced") == "0"
            expect(row.get_by_test_id("replaced-label")).to_have_count(0)
    others = [r for r in page_rows if r["municipality"] not in active]
    assert others
    assert {r["status"] for r in others} == {"missing"}

    # The counts on top: the API's, and what the demo did.
    counts = {key: int(page.get_by_test_id(f"count-{key}").get_attribute("data-value") or "") for key in api["counts"]}
    assert counts == api["counts"]
    assert counts["expected"] == len(valid_municipalities(YEAR))
    assert counts["received"] == len(active)
    assert counts["missing"] == counts["expected"] - len(active)
    assert counts["with_findings"] == len(active) - 1
    assert counts["replaced"] == 1
    screenshot(page, "overview-nb")


def test_the_overview_filters_to_the_replaced_municipality(operator_page: Page, demo_run: DemoRun) -> None:
    page = operator_page
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    page.get_by_test_id("filter-status").select_option("replaced")
    page.get_by_test_id("filter-submit").click()
    expect(page.get_by_test_id("overview-row")).to_have_count(1)
    assert page.get_by_test_id("overview-row").get_attribute("data-municipality") == CORRECTED
    api = _api(demo_run, f"/v1/operator/years/{YEAR}/overview?status=replaced")
    assert [m["municipality"] for m in api["municipalities"]] == [CORRECTED]


# --- one submission ----------------------------------------------------------------------------------------------


def test_the_submission_page_shows_the_findings(operator_page: Page, demo_run: DemoRun, screenshot: Screenshot) -> None:
    page = operator_page
    nr = "0301"
    submitted = demo_run.active()[nr]
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    page.locator(f"[data-testid=overview-row][data-municipality='{nr}']").get_by_test_id("submission-link").click()
    expect(page.get_by_test_id("submission-heading")).to_contain_text(nr)
    assert _path(page) == f"{DASHBOARD}/submissions/{submitted.submission_id}"

    api = _api(demo_run, f"/v1/operator/submissions/{submitted.submission_id}")
    assert api["findings_withheld"] is False
    assert page.get_by_test_id("fact-status").get_attribute("data-status") == "active"
    for key in ("records", "findings", "errors", "warnings"):
        assert page.get_by_test_id(f"count-{key}").get_attribute("data-value") == str(api["submission"][key])

    # Findings by rule: the API's, and exactly the faults the export was given.
    table = page.get_by_test_id("finding-rule-row").evaluate_all(
        """rows => rows.map(r => [r.dataset.rule,
            Number(r.querySelector('[data-testid=cell-findings]').textContent.replace(/\\s/g, '')),
            Number(r.querySelector('[data-testid=cell-records]').textContent.replace(/\\s/g, ''))])"""
    )
    assert table == [[f["code"], f["findings"], f["records"]] for f in api["findings_by_rule"]]
    assert Counter({code: n for code, n, _ in table}) == submitted.faults
    assert len(table) >= 5
    screenshot(page, "submission-0301")

    # Record by record, by the registry's random reference: the API's findings, in its order.
    page.get_by_test_id("all-findings-link").click()
    expect(page.get_by_test_id("record-findings-heading")).to_be_visible()
    records = _api(demo_run, f"/v1/operator/submissions/{submitted.submission_id}/findings?limit=200")
    assert page.get_by_test_id("record-findings-total").get_attribute("data-value") == str(records["total"])
    assert records["total"] == sum(submitted.faults.values())
    rows = page.get_by_test_id("record-finding-row")
    assert [r.get_attribute("data-rule") for r in rows.all()] == [f["code"] for f in records["findings"]]
    refs = rows.locator("th code").all_inner_texts()
    assert refs == [f["ref"] for f in records["findings"]]
    screenshot(page, "findings-0301")

    # One rule's findings, from the rule's link on the submission page.
    page.go_back()
    first_rule = table[0][0]
    page.locator(f"[data-testid=finding-rule-row][data-rule='{first_rule}']").get_by_test_id("rule-link").click()
    expect(page.get_by_test_id("record-finding-row")).to_have_count(table[0][1])
    assert {r.get_attribute("data-rule") for r in page.get_by_test_id("record-finding-row").all()} == {first_rule}


def test_the_replaced_submission_shows_its_history(
    operator_page: Page, demo_run: DemoRun, screenshot: Screenshot
) -> None:
    page = operator_page
    first, second = demo_run.first[CORRECTED], demo_run.resubmitted[CORRECTED]
    page.goto(f"{demo_run.registry}{DASHBOARD}/submissions/{second.submission_id}")
    expect(page.get_by_test_id("no-findings")).to_be_visible()
    history = page.get_by_test_id("history-row")
    assert [(r.get_attribute("data-submission"), r.get_attribute("data-status")) for r in history.all()] == [
        (first.submission_id, "superseded"),
        (second.submission_id, "active"),
    ]
    api = _api(demo_run, f"/v1/operator/submissions/{second.submission_id}")
    assert [h["submission_id"] for h in api["history"]] == [first.submission_id, second.submission_id]
    assert api["submission"]["supersedes"] == first.submission_id
    screenshot(page, "submission-4601-replaced")
    # The superseded one, from the history: its findings went with its records.
    history.first.locator("a").click()
    expect(page.get_by_test_id("fact-status")).to_have_attribute("data-status", "superseded")


def test_an_unknown_submission_is_not_found(operator_page: Page, demo_run: DemoRun) -> None:
    response = operator_page.goto(f"{demo_run.registry}{DASHBOARD}/submissions/00000000-0000-4000-8000-000000000000")
    assert response is not None
    assert response.status == 404
    expect(operator_page.get_by_test_id("not-found")).to_be_visible()


# --- charts ------------------------------------------------------------------------------------------------------


def test_the_statistics_page_draws_its_charts_beside_their_tables(
    operator_page: Page, demo_run: DemoRun, screenshot: Screenshot
) -> None:
    page = operator_page
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    page.get_by_test_id("nav-statistics").click()
    expect(page.get_by_test_id("statistics-heading")).to_contain_text(str(YEAR))
    rules = _api(demo_run, f"/v1/operator/years/{YEAR}/findings-by-rule")["rules"]
    shown_rules = [r for r in rules if r["suppressed"] or r["findings"]]
    bars = {"intake-chart": 1, "services-chart": 1, "rules-chart": sum(1 for r in shown_rules if not r["suppressed"])}
    assert bars["rules-chart"] >= 2  # 5001's two fault kinds
    for chart, at_least in bars.items():
        figure = page.get_by_test_id(chart)
        expect(figure).to_be_visible()
        assert figure.locator("svg rect").count() >= at_least
        assert figure.locator("svg").bounding_box()["height"] > 20  # type: ignore[index]
    # A bar per rule with findings; a suppressed one has its "<5" label and no bar.
    labels = page.get_by_test_id("rules-chart").locator("text.chart__label").all_text_contents()
    assert labels == [r["code"] for r in shown_rules]
    assert page.get_by_test_id("rules-chart").locator("rect").count() == bars["rules-chart"]

    # Submissions by day: all five of the demo (four and the resubmission), as the API counts them.
    intake = _api(demo_run, f"/v1/operator/years/{YEAR}/intake")
    cells = page.get_by_test_id("intake-row").get_by_test_id("cell-submissions").all_inner_texts()
    assert sum(_ints(cells)) == sum(d["submissions"] for d in intake["days"]) == 5

    # Findings by rule across the municipalities: the API's rows, suppressed where it suppresses.
    page_rules = page.get_by_test_id("rule-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.rule, r.dataset.suppressed === 'true',"
        " r.querySelector('[data-testid=cell-findings]').textContent.trim()])"
    )
    assert [(code, suppressed) for code, suppressed, _ in page_rules] == [(r["code"], r["suppressed"]) for r in rules]
    for (code, suppressed, text), rule in zip(page_rules, rules, strict=True):
        assert text == ("<5 (skjult)" if suppressed else f"{rule['findings']:,}".replace(",", "\u00a0")), code
    screenshot(page, "statistics")


# --- languages and the keyboard ----------------------------------------------------------------------------------


def test_the_language_switch(operator_page: Page, demo_run: DemoRun, screenshot: Screenshot) -> None:
    page = operator_page
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    assert page.locator("html").get_attribute("lang") == "nb"
    expect(page.get_by_test_id("overview-heading")).to_have_text(f"Innsendinger for rapporteringsåret {YEAR}")

    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("overview-heading")).to_have_text(f"Submissions for reporting year {YEAR}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert parse_qs(urlsplit(page.url).query) == {"year": [str(YEAR)], "lang": ["en"]}
    expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("operator")
    statuses = page.get_by_test_id("status-label").all_inner_texts()
    assert "Missing" in statuses
    assert "Received with findings" in statuses
    screenshot(page, "overview-en")

    # The language stays with the links: a submission's page opens in English too.
    page.get_by_test_id("submission-link").first.click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "lang=en" in page.url
    page.get_by_test_id("lang-nb").click()
    assert page.locator("html").get_attribute("lang") == "nb"
    assert "lang=" not in page.url

    # The sign-in page speaks both as well.
    page.context.clear_cookies()
    page.goto(f"{demo_run.registry}{SIGN_IN}?lang=en")
    expect(page.get_by_test_id("sign-in-submit")).to_have_text("Sign in")
    screenshot(page, "sign-in-en")


def _tab_to(page: Page, predicate: str, limit: int = 60) -> list[str]:
    """Press Tab until ``predicate`` (JS over ``el``) holds for document.activeElement; the focus path."""
    path: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        path.append(
            page.evaluate(
                "() => { const el = document.activeElement;"
                " return el.dataset.testid || el.id || el.tagName.toLowerCase(); }"
            )
        )
        if page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({predicate}); }}"):
            return path
    raise AssertionError(f"Tab never reached {predicate}: {path}")


def test_the_keyboard_reaches_the_sign_in_field_and_the_overview_s_first_link(page: Page, demo_run: DemoRun) -> None:
    page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    path = _tab_to(page, "el.id === 'token'")
    assert path[0] == "skip-link"  # the first stop on every page
    assert len(path) <= 6
    # Sign in with the keyboard alone.
    page.keyboard.type(demo_run.operator_token)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("overview-heading")).to_be_visible()

    # The skip link jumps over the header to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # From there on, Tab reaches the overview's first submission link (the first row's municipality).
    path = _tab_to(page, "el.dataset.testid === 'submission-link'", limit=40)
    first_row = page.get_by_test_id("overview-row").first.get_attribute("data-municipality")
    assert page.evaluate("document.activeElement.textContent.trim()") == first_row
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("submission-heading")).to_contain_text(first_row or "")


# --- the gateway's pages for municipal IT ------------------------------------------------------------------------


def test_the_gateway_pages_show_a_municipality_its_own_submissions_and_report(
    page: Page, demo_run: DemoRun, screenshot: Screenshot
) -> None:
    nr = "0301"
    token = demo_run.chain.municipality_token(nr)
    page.goto(f"{demo_run.gateway}/pages/submissions")
    assert _path(page) == "/pages/sign-in"
    page.get_by_test_id("sign-in-token").fill(token)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("submissions-heading")).to_be_visible()

    # Its own submissions only: the same list as the gateway's API gives its token.
    api = client.get_json(f"{demo_run.gateway}/v1/submissions", token)
    own = {row["submission_id"] for row in api["submissions"]}
    rows = page.get_by_test_id("submission-row")
    assert {r.get_attribute("data-submission") for r in rows.all()} == own == {demo_run.first[nr].submission_id}
    assert {r.get_attribute("data-municipality") for r in rows.all()} == {nr}
    screenshot(page, "gateway-submissions")

    # The control report at the gateway, by brukerNr: the gateway API's report.
    page.get_by_test_id("submission-link").first.click()
    expect(page.get_by_test_id("fact-state")).to_have_attribute("data-state", "stored")
    report = client.get_json(f"{demo_run.gateway}/v1/submissions/{demo_run.first[nr].submission_id}/report", token)
    counts = page.get_by_test_id("report-rule-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.rule, Number(r.querySelector('[data-testid=cell-count]').textContent)])"
    )
    assert counts == [[c["code"], c["count"]] for c in report["counts"]]
    bruker = page.get_by_test_id("cell-bruker-nr").all_inner_texts()
    assert bruker == [f["brukerNr"] or "–" for f in report["findings"]][: len(bruker)]
    assert len(bruker) == min(len(report["findings"]), 100)  # a page of findings
    screenshot(page, "gateway-submission")

    # Another municipality's submission is not there for this token.
    other = demo_run.first["4601"].submission_id
    response = page.goto(f"{demo_run.gateway}/pages/submissions/{other}")
    assert response is not None
    assert response.status == 404


# --- the comparison statistics ------------------------------------------------------------------------------------


def test_the_comparison_statistics_at_the_municipality_s_gateway_and_on_the_operators_page(
    page: Page, operator_page: Page, demo_run: DemoRun, screenshot: Screenshot
) -> None:
    nr = "0301"
    token = demo_run.chain.municipality_token(nr)
    submission = demo_run.first[nr].submission_id
    page.goto(f"{demo_run.gateway}/pages/sign-in")
    page.get_by_test_id("sign-in-token").fill(token)
    page.get_by_test_id("sign-in-submit").click()
    page.goto(f"{demo_run.gateway}/pages/submissions/{submission}")
    page.get_by_test_id("comparison-link").click()
    expect(page.get_by_test_id("comparison-heading")).to_contain_text(nr)
    api = client.get_json(f"{demo_run.gateway}/v1/submissions/{submission}/comparison", token)
    mine = next(a for a in api["areas"] if a["level"] == "municipality")
    # The key figures' first column is the municipality's, as the gateway's API gives it (or hidden, as it says).
    row = page.locator('[data-testid="comparison-indicators"] tr[data-key="share_80_plus"] td').nth(1)
    value = mine["share_80_plus"]["value"]
    expect(row).to_have_text("skjult" if value is None else f"{value:g}")
    chart = page.get_by_test_id("chart-share_80_plus")
    expect(chart).to_be_visible()
    assert chart.locator("svg").bounding_box()["height"] > 20  # type: ignore[index]
    with page.expect_download() as download:
        page.get_by_test_id("comparison-csv").click()
    assert download.value.suggested_filename == f"sammenligning-{nr}-{YEAR}.csv"
    screenshot(page, "gateway-comparison")

    operator_page.goto(f"{demo_run.registry}{DASHBOARD}?year={YEAR}")
    operator_page.get_by_test_id("nav-comparison").click()
    expect(operator_page.get_by_test_id("comparison-heading")).to_contain_text(str(YEAR))
    national = _api(demo_run, f"/v1/operator/years/{YEAR}/comparison")
    codes = operator_page.get_by_test_id("comparison-row").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes == [a["code"] for a in national["areas"]]
    expect(operator_page.get_by_test_id("comparison-chart")).to_be_visible()
    screenshot(operator_page, "comparison")


# --- municipal IT sends an export from the browser ------------------------------------------------------------------

UPLOADER = "1103"  # uploads for the year before the run's, so the run's own year stays as the other tests saw it


def test_an_upload_in_the_browser_answers_as_iplos_validate_and_a_stored_one_pages_through_its_findings(
    page: Page, demo_run: DemoRun, screenshot: Screenshot, tmp_path: Path
) -> None:
    year = YEAR - 1
    token = demo_run.chain.municipality_token(UPLOADER)
    _sign_in(page, demo_run.gateway, token, "/pages/sign-in")
    page.goto(f"{demo_run.gateway}/pages/submissions")
    before = client.get_json(f"{demo_run.gateway}/v1/submissions", token)["submissions"]

    # A file with schema faults: refused, every error listed as `iplos validate` lists it offline.
    clean = tmp_path / "clean.xml"
    generate_export(UPLOADER, year, 120, 71, clean)
    faulty = tmp_path / "faulty.xml"
    placed = spread_faults(clean, faulty, [fault.name for fault in SCHEMA_FAULTS])
    page.get_by_test_id("upload-file").set_input_files(str(faulty))
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("upload-problem")).to_have_attribute("data-problem", "schema-invalid")
    offline = subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", "validate", "--json", str(faulty)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = json.loads(offline.stdout)["errors"]
    shown = page.get_by_test_id("upload-error").evaluate_all(
        "items => items.map(i => [Number(i.dataset.line), i.dataset.rule,"
        " i.querySelector('[data-testid=upload-error-message]').textContent])"
    )
    assert shown == [[e["line"], e["rule"], e["message_nb"]] for e in said]
    assert [line for line, _, _ in shown] == [f.line for f in placed]
    screenshot(page, "gateway-upload-refused")
    assert client.get_json(f"{demo_run.gateway}/v1/submissions", token)["submissions"] == before

    # A valid export with many records the logical controls flag: accepted, stored, its findings a page at a time.
    export = tmp_path / "export.xml"
    header, records = generate_records(UPLOADER, year, 260, 72)
    faulted, _key = inject_faults(records, year=year, rate=0.9, rng=random.Random(72))
    write_export(export, header, faulted)
    page.get_by_test_id("upload-file").set_input_files(str(export))
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("uploaded")).to_be_visible()
    submission = page.get_by_test_id("fact-id").inner_text().strip()
    final = client.wait_final(demo_run.gateway, submission, 60, token=token)
    assert final["state"] == "stored", final
    page.reload()
    report = client.get_json(f"{demo_run.gateway}/v1/submissions/{submission}/report", token)
    everyone = [f["brukerNr"] or "–" for f in report["findings"]]
    assert len(everyone) > 200
    expect(page.get_by_test_id("findings-pager")).to_have_attribute("data-page", "1")
    assert page.get_by_test_id("cell-bruker-nr").all_inner_texts() == everyone[:100]
    # Beside each finding, the control's title and its rule from the catalogue.
    explanation = page.get_by_test_id("cell-explanation").first.inner_text()
    assert report["findings"][0]["title"] in explanation
    screenshot(page, "gateway-findings-page-1")
    page.get_by_test_id("findings-next").click()
    expect(page.get_by_test_id("findings-pager")).to_have_attribute("data-page", "2")
    assert page.get_by_test_id("cell-bruker-nr").all_inner_texts() == everyone[100:200]
    with page.expect_download() as download:
        page.get_by_test_id("findings-csv").click()
    rows = list(csv.reader(Path(download.value.path()).read_text(encoding="utf-8").splitlines()))
    assert rows[0][:2] == ["brukerNr", "kontroll"]
    assert [(r[0] or "–", r[1]) for r in rows[1:]] == [(f["brukerNr"] or "–", f["code"]) for f in report["findings"]]
    screenshot(page, "gateway-findings-page-2")


# --- the API documentation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["gateway", "registry"])
def test_the_api_docs_work_without_internet_and_break_no_rule_of_the_page_s_policy(
    page: Page, demo_run: DemoRun, screenshot: Screenshot, service: str
) -> None:
    elsewhere: list[str] = []

    def local_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # the internet is not there: any request for it is noted and fails
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.goto(f"{demo_run.chain.url(service)}/docs")
    path = "/v1/submissions" if service == "gateway" else "/v1/deliveries"
    expect(page.locator(".opblock-summary-path", has_text=path).first).to_be_visible()
    # The bearer token is declared: Swagger UI offers to take one, and marks the operations that need it.
    expect(page.locator("button.authorize").first).to_be_visible()
    assert page.locator(".authorization__btn").count() > 0
    assert elsewhere == []
    assert refused == []
    screenshot(page, f"{service}-api-docs")
