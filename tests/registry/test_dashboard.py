"""The registry's operator dashboard: sign-in, the year overview, statistics and one submission, as HTML.

Same app and same filled database as ``test_operator_api.py`` (its fixtures), on SQLite and PostgreSQL; no
browser (``tests/browser`` drives the pages in Chromium). Each page is compared with the operator API it is
rendered from, through the stable ``data-testid`` / ``data-*`` attributes the browser tests rely on too.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from iplos_testkit.exports import write_synthetic_export
from services.kit.web import FORM_TOKEN_FIELD
from services.registry_intake import models
from services.registry_intake.dashboard.i18n import LABELS
from services.registry_intake.dependencies import COOKIE as COOKIE_NAME
from shared.iplos.comparison_csv import figures_csv
from shared.iplos.municipalities import valid_municipalities
from tests.badinput.test_matrix import identity_numbers
from tests.e2e.messages import build_delivery, build_message
from tests.pages import SAME_ORIGIN, sign_in, signed_in_token

from .test_operator_api import (
    AFTER_DEADLINE,
    AUDITOR_TOKEN,
    BEFORE_DEADLINE,
    OPERATOR_TOKEN,
    YEAR,
    Registry,
    overview,
    rows_by_number,
)

# The fixtures, shared (an explicit re-export, so the test parameters that name them are not redefinitions).
from .test_operator_api import registry as registry
from .test_operator_api import registry_key_dir as registry_key_dir

# --- reading pages -------------------------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every element's tag and attributes, in document order, with the text inside each (for ``data-testid``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in {"input", "meta", "link", "br", "img", "rect", "line", "polyline"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data


def parse(page: str) -> list[dict[str, Any]]:
    parser = Elements()
    parser.feed(page)
    return parser.elements


def by_testid(page: str, testid: str) -> list[dict[str, Any]]:
    return [e for e in parse(page) if e["attrs"].get("data-testid") == testid]


def text_of(page: str, testid: str) -> str:
    found = by_testid(page, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid}"
    return " ".join(found[0]["text"].split())


def signed_in(registry: Registry, token: str = OPERATOR_TOKEN) -> Registry:
    """The test client signed in with ``token`` through the sign-in form (a session of its own)."""
    assert sign_in(registry.client, "/dashboard", token).status_code == 303
    return registry


def page(registry: Registry, path: str, status: int = 200) -> str:
    response = registry.client.get(path)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


PAGES = [
    "/dashboard",
    f"/dashboard?year={YEAR}",
    "/dashboard/statistics",
    f"/dashboard/comparison?year={YEAR}",
    "/dashboard/submissions/{oslo}",
    "/dashboard/submissions/{oslo}/findings",
    "/dashboard/municipalities/0301",
]


# --- sign-in ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_sign_in_without_a_credential(registry: Registry, path: str) -> None:
    path = path.format(**registry.filled.ids)
    response = registry.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/dashboard/sign-in"
    assert parse_qs(location.query) == {"next": [path]}
    # A token in the cookie is no session, nor is an unknown session id.
    registry.client.cookies.set(COOKIE_NAME, OPERATOR_TOKEN)
    assert registry.client.get(path, follow_redirects=False).status_code == 303
    registry.client.cookies.set(COOKIE_NAME, "iplos_forged")
    assert registry.client.get(path, follow_redirects=False).status_code == 303


def test_the_sign_in_form(registry: Registry) -> None:
    form_page = page(registry, "/dashboard/sign-in?next=/dashboard/statistics")
    (form,) = by_testid(form_page, "sign-in-form")
    assert (form["tag"], form["attrs"]["method"], form["attrs"]["action"]) == ("form", "post", "/dashboard/sign-in")
    (token,) = by_testid(form_page, "sign-in-token")
    assert (token["attrs"]["type"], token["attrs"]["name"], token["attrs"]["autocomplete"]) == (
        "password",
        "token",
        "off",
    )
    assert re.search(r'<label for="token">', form_page)
    assert by_testid(form_page, "sign-in-submit")[0]["tag"] == "button"
    assert 'name="next" value="/dashboard/statistics"' in form_page


def test_signing_in_starts_a_session_in_an_http_only_same_site_strict_cookie_and_signing_out_ends_it(
    registry: Registry,
) -> None:
    client = registry.client
    response = sign_in(client, "/dashboard", OPERATOR_TOKEN, next="/dashboard/statistics")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/statistics"
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE_NAME}=")]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    session_id = cookie.split(";", 1)[0].split("=", 1)[1]
    assert OPERATOR_TOKEN not in str(response.headers)  # the token stays with the person, not in the browser
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http (the test client's); https below
    # The session's row: the id's SHA-256 and the credential's name, never the id.
    with registry.engine.connect() as conn:
        rows = conn.execute(select(models.web_sessions)).all()
    assert [(r.id_sha256, r.credential_name) for r in rows] == [
        (hashlib.sha256(session_id.encode()).hexdigest(), "test-operator")
    ]
    # The session now opens the pages, and the operator API behind them.
    assert 'data-testid="overview-table"' in page(registry, "/dashboard")
    assert client.get(f"/v1/operator/years/{YEAR}/overview").status_code == 200
    stolen = TestClient(client.app, base_url="http://registry.test")
    stolen.cookies.set(COOKIE_NAME, session_id)
    assert stolen.get(f"/v1/operator/years/{YEAR}/overview").status_code == 200
    out = client.post(
        "/dashboard/sign-out",
        data={FORM_TOKEN_FIELD: signed_in_token(client, "/dashboard")},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert out.headers["location"].startswith("/dashboard/sign-in")
    cleared = [part.strip().lower() for part in out.headers["set-cookie"].split(";")]
    assert cleared[0] in (f'{COOKIE_NAME}=""', f"{COOKIE_NAME}=")
    assert "max-age=0" in cleared
    assert "httponly" in cleared
    assert "samesite=strict" in cleared
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    # A copy of the cookie taken before the sign-out opens nothing any more.
    assert stolen.get("/dashboard", follow_redirects=False).status_code == 303
    assert stolen.get(f"/v1/operator/years/{YEAR}/overview").status_code == 401


def test_the_cookie_is_secure_and_host_prefixed_over_https(registry: Registry) -> None:
    response = sign_in(
        registry.client,
        "/dashboard",
        OPERATOR_TOKEN,
        base="https://registry.test",
        headers={"Origin": "https://registry.test"},
    )
    assert response.status_code == 303
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"__Host-{COOKIE_NAME}=")]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=strict" in attributes


@pytest.mark.parametrize(
    ("token", "status"), [("iplos_unknown", 401), ("", 400), (OPERATOR_TOKEN + "x", 401), ("   ", 400)]
)
def test_a_wrong_token_is_refused_with_the_form_again_and_no_session(
    registry: Registry, token: str, status: int
) -> None:
    response = sign_in(registry.client, "/dashboard", token)
    assert response.status_code == status
    assert f"{COOKIE_NAME}=" not in response.headers.get("set-cookie", "")
    assert by_testid(response.text, "sign-in-error")
    assert by_testid(response.text, "sign-in-form")
    if token.strip():
        assert token not in response.text  # never echoed


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Origin": "null"}, {}, {"Sec-Fetch-Site": "cross-site"}]
)
def test_a_sign_in_from_another_site_or_from_nowhere_is_refused(registry: Registry, headers: dict[str, str]) -> None:
    response = sign_in(registry.client, "/dashboard", OPERATOR_TOKEN, headers=headers)
    assert response.status_code == 403
    assert f"{COOKIE_NAME}=" not in response.headers.get("set-cookie", "")
    with registry.engine.connect() as conn:
        assert conn.execute(select(models.web_sessions)).all() == []


@pytest.mark.parametrize("next_url", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "dashboard"])
def test_sign_in_never_redirects_off_the_site(registry: Registry, next_url: str) -> None:
    response = sign_in(registry.client, "/dashboard", OPERATOR_TOKEN, next=next_url)
    assert response.headers["location"] == "/dashboard"


def test_the_bearer_header_opens_the_pages_too(registry: Registry) -> None:
    response = registry.client.get("/dashboard", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert response.status_code == 200


def test_pages_are_not_cached_framed_or_given_away_as_referrer(registry: Registry) -> None:
    response = signed_in(registry).client.get("/dashboard")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "<script" not in response.text


# --- the year overview ----------------------------------------------------------------------------------------------


def _rows(page_text: str) -> dict[str, dict[str, str]]:
    return {e["attrs"]["data-municipality"]: e["attrs"] for e in by_testid(page_text, "overview-row")}


def test_the_overview_page_shows_what_the_api_says(registry: Registry) -> None:
    registry.clock.now = AFTER_DEADLINE
    document = overview(registry)
    text = page(signed_in(registry), f"/dashboard?year={YEAR}")
    rows = _rows(text)
    assert set(rows) == set(valid_municipalities(YEAR))
    assert list(rows) == [row["municipality"] for row in document["municipalities"]]
    for number, row in rows_by_number(document).items():
        attrs = rows[number]
        assert attrs["data-status"] == row["status"]
        assert attrs["data-replaced"] == str(row["replaced"])
        assert attrs["data-late"] == str(row["late"]).lower()
        assert attrs["data-overdue"] == str(row["overdue"]).lower()
        assert attrs.get("data-submission") == row["submission_id"]
    for key, value in document["counts"].items():
        (count,) = by_testid(text, f"count-{key}")
        assert count["attrs"]["data-value"] == str(value)
    assert by_testid(text, "shown-count")[0]["attrs"]["data-value"] == "357"
    # The row of Oslo: replaced twice, late, 12 records; its number links to its submission.
    oslo = next(e for e in parse(text) if e["attrs"].get("data-municipality") == "0301")
    assert "Erstattet 2 ganger" in oslo["text"]
    assert "For sent" in oslo["text"]
    assert f'href="/dashboard/submissions/{registry.filled.ids["oslo"]}"' in text
    assert text_of(text, "deadline").startswith("Frist 28.02.2025.")
    assert "for 10 dager siden" in text_of(text, "deadline")


def test_the_overview_page_counts_down_before_the_deadline(registry: Registry) -> None:
    registry.clock.now = BEFORE_DEADLINE
    text = page(signed_in(registry), f"/dashboard?year={YEAR}")
    (deadline,) = by_testid(text, "deadline")
    assert deadline["attrs"]["data-days-left"] == "8"
    assert deadline["attrs"]["data-passed"] == "false"
    assert "8 dager igjen" in deadline["text"]
    assert by_testid(text, "count-overdue")[0]["attrs"]["data-value"] == "0"
    assert not by_testid(text, "overdue-label")


def test_the_overview_opens_on_the_year_being_collected(registry: Registry) -> None:
    text = page(signed_in(registry), "/dashboard")
    assert text_of(text, "overview-heading") == f"Innsendinger for rapporteringsåret {YEAR}"
    # A year that is no year falls back to the default rather than failing.
    assert text_of(page(registry, "/dashboard?year=abcd"), "overview-heading").endswith(str(YEAR))


@pytest.mark.parametrize(
    "query",
    ["?status=findings", "?status=missing&q=stav", "?q=berg&sort=name&order=desc", "?sort=received&order=desc"],
)
def test_the_page_filters_and_sorts_like_the_api(registry: Registry, query: str) -> None:
    expected = [row["municipality"] for row in overview(registry, query)["municipalities"]]
    text = page(signed_in(registry), f"/dashboard{query}&year={YEAR}")
    assert list(_rows(text)) == expected


def test_sorting_is_links_with_aria_sort_on_the_sorted_column(registry: Registry) -> None:
    text = page(signed_in(registry), f"/dashboard?year={YEAR}&sort=records&order=desc&status=findings")
    headers = [e for e in parse(text) if e["tag"] == "th" and e["attrs"].get("scope") == "col"]
    sorted_headers = [h for h in headers if "aria-sort" in h["attrs"]]
    assert len(sorted_headers) == 1
    assert sorted_headers[0]["attrs"]["aria-sort"] == "descending"
    assert "Poster" in sorted_headers[0]["text"]
    # The sorted column's link turns the order around; the others sort ascending; the filter is kept.
    (records_link,) = by_testid(text, "sort-records")
    assert records_link["attrs"]["href"] == f"/dashboard?year={YEAR}&status=findings&sort=records&order=asc"
    assert (
        by_testid(text, "sort-name")[0]["attrs"]["href"]
        == f"/dashboard?year={YEAR}&status=findings&sort=name&order=asc"
    )
    # Every row has a row header; every table header has a scope.
    assert all(e["attrs"].get("scope") in ("col", "row") for e in parse(text) if e["tag"] == "th")


def test_the_filter_form_works_without_javascript(registry: Registry) -> None:
    text = page(signed_in(registry), f"/dashboard?year={YEAR}")
    (form,) = by_testid(text, "filter-form")
    assert (form["attrs"]["method"], form["attrs"]["action"]) == ("get", "/dashboard")
    (status,) = by_testid(text, "filter-status")
    assert (status["tag"], status["attrs"]["name"]) == ("select", "status")
    assert by_testid(text, "filter-q")[0]["attrs"]["name"] == "q"
    assert by_testid(text, "filter-submit")[0]["tag"] == "button"


def test_small_cells_are_suppressed_on_the_overview_page_as_in_the_api(registry: Registry) -> None:
    assert rows_by_number(overview(registry))["5001"]["records"] is None
    text = page(signed_in(registry), f"/dashboard?year={YEAR}")
    trondheim = next(e for e in parse(text) if e["attrs"].get("data-municipality") == "5001")
    assert "<5" in trondheim["text"]
    assert "skjult" in trondheim["text"]
    assert "3" not in " ".join(trondheim["text"].split()).replace("5001", "").replace("2025", "")
    assert "Tall som teller personer vises ikke når de er mindre enn 5" in text_of(text, "suppression-note")


# --- statistics ---------------------------------------------------------------------------------------------------


def test_the_statistics_page_has_charts_and_the_same_numbers_in_tables(registry: Registry) -> None:
    text = page(signed_in(registry), f"/dashboard/statistics?year={YEAR}")
    for chart in ("intake-chart", "rules-chart", "services-chart"):
        (figure,) = by_testid(text, chart)
        assert figure["tag"] == "figure"
    assert text.count("<svg") == 3
    assert 'role="img"' in text
    intake = registry.get(f"/v1/operator/years/{YEAR}/intake").json()
    days = {e["attrs"]["data-day"]: e for e in by_testid(text, "intake-row")}
    assert list(days) == [d["day"] for d in intake["days"]]
    services = registry.get(f"/v1/operator/years/{YEAR}/records-per-service-type").json()["service_types"]
    rows = {e["attrs"]["data-service-type"]: e for e in by_testid(text, "service-row")}
    assert list(rows) == [str(s["service_type"]) for s in services]
    assert rows["21"]["attrs"]["data-suppressed"] == "true"
    assert "<5" in rows["21"]["text"]
    assert "41" in rows["6"]["text"]
    rules = {e["attrs"]["data-rule"]: e for e in by_testid(text, "rule-row")}
    assert rules["K009"]["attrs"]["data-suppressed"] == "true"
    assert "<5" in rules["K009"]["text"]
    assert rules["K013"]["attrs"]["data-suppressed"] == "false"
    assert by_testid(text, "suppression-note")


def test_an_auditor_sees_the_statistics_without_findings_by_rule(registry: Registry) -> None:
    text = page(signed_in(registry, AUDITOR_TOKEN), f"/dashboard/statistics?year={YEAR}")
    assert by_testid(text, "findings-withheld")
    assert not by_testid(text, "rules-table")
    assert not by_testid(text, "rules-chart")
    assert by_testid(text, "services-table")


# --- one submission -----------------------------------------------------------------------------------------------


def test_the_submission_page(registry: Registry) -> None:
    ids = registry.filled.ids
    document = registry.get(f"/v1/operator/submissions/{ids['oslo']}").json()
    text = page(signed_in(registry), f"/dashboard/submissions/{ids['oslo']}")
    assert text_of(text, "fact-municipality") == "0301 Oslo"
    assert text_of(text, "fact-sequence") == "3"
    assert text_of(text, "fact-sender") == "kommune-0301"
    assert text_of(text, "fact-bydel") == "030101"
    assert by_testid(text, "late-label")
    for key in ("records", "pseudonymised", "identities_refused", "findings", "errors", "warnings"):
        (count,) = by_testid(text, f"count-{key}")
        assert count["attrs"]["data-value"] == str(document["submission"][key])
    rules = {e["attrs"]["data-rule"]: e["text"] for e in by_testid(text, "finding-rule-row")}
    assert list(rules) == ["K009", "K013"]
    assert document["findings_by_rule"][1]["title"] in rules["K013"]
    history = [(e["attrs"]["data-submission"], e["attrs"]["data-status"]) for e in by_testid(text, "history-row")]
    assert history == [(h["submission_id"], h["status"]) for h in document["history"]]
    assert document["receipt"]["signature"] == text_of(text, "receipt-signature")
    assert f'"message_id": "{ids["oslo"]}"' in html.unescape(text_of(text, "receipt")) or ids["oslo"] in text
    audit = by_testid(text, "audit-row")
    assert [e["attrs"]["data-event"] for e in audit] == [e["event"] for e in document["audit_trail"]["entries"]]
    assert all(e["attrs"]["data-verified"] == "true" for e in audit)


def test_an_auditor_sees_that_findings_are_withheld(registry: Registry) -> None:
    ids = registry.filled.ids
    text = page(signed_in(registry, AUDITOR_TOKEN), f"/dashboard/submissions/{ids['oslo']}")
    assert "vises bare for operatører" in text_of(text, "findings-withheld")
    assert not by_testid(text, "findings-table")
    assert not by_testid(text, "all-findings-link")
    assert "K013" not in text
    # The counts, the receipt and the audit trail are there.
    assert by_testid(text, "count-findings")[0]["attrs"]["data-value"] == "8"
    assert by_testid(text, "receipt")
    assert by_testid(text, "audit-table")
    withheld = page(registry, f"/dashboard/submissions/{ids['oslo']}/findings", status=403)
    assert by_testid(withheld, "findings-withheld")
    assert "oslo3-" not in withheld


def test_the_findings_page_lists_records_by_reference(registry: Registry) -> None:
    oslo = registry.filled.ids["oslo"]
    text = page(signed_in(registry), f"/dashboard/submissions/{oslo}/findings?rule=K009")
    rows = by_testid(text, "record-finding-row")
    assert [r["attrs"]["data-rule"] for r in rows] == ["K009", "K009"]
    assert "oslo3-00007" in rows[0]["text"]
    assert by_testid(text, "record-findings-total")[0]["attrs"]["data-value"] == "2"


def test_an_unknown_submission_is_a_404_page(registry: Registry) -> None:
    signed_in(registry)
    for path in ("/dashboard/submissions/00000000-0000-4000-8000-000000000000", "/dashboard/submissions/x%00y"):
        assert by_testid(page(registry, path, status=404), "not-found")


# --- languages and keyboard ---------------------------------------------------------------------------------------


def test_both_languages_have_the_same_labels() -> None:
    assert set(LABELS["nb"]) == set(LABELS["en"])


@pytest.mark.parametrize("path", PAGES)
def test_the_language_switch_changes_the_labels(registry: Registry, path: str) -> None:
    path = path.format(**registry.filled.ids)
    signed_in(registry)
    joiner = "&" if "?" in path else "?"
    norwegian = page(registry, path)
    english = page(registry, f"{path}{joiner}lang=en")
    assert '<html lang="nb">' in norwegian
    assert '<html lang="en">' in english
    assert "Hopp til hovedinnholdet" in norwegian
    assert "Skip to main content" in english
    # The switch links the same page in the other language (and back).
    (to_english,) = by_testid(norwegian, "lang-en")
    assert to_english["attrs"]["href"].startswith(path.split("?")[0])
    assert "lang=en" in to_english["attrs"]["href"]
    (to_norwegian,) = by_testid(english, "lang-nb")
    assert "lang=" not in to_norwegian["attrs"]["href"]
    assert to_norwegian["attrs"]["lang"] == "nb"
    # The English page's own links keep the language.
    nav = by_testid(english, "nav-statistics")[0]["attrs"]["href"]
    assert "lang=en" in nav


def test_the_english_overview(registry: Registry) -> None:
    text = page(signed_in(registry), f"/dashboard?year={YEAR}&lang=en")
    assert text_of(text, "overview-heading") == f"Submissions for reporting year {YEAR}"
    assert "Replaced 2 times" in text
    assert "deadline passed 10 days ago" in text_of(text, "deadline")
    assert "Innsendinger" not in text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_skip_link_a_main_landmark_and_labelled_controls(registry: Registry, path: str) -> None:
    text = page(signed_in(registry), path.format(**registry.filled.ids))
    (skip,) = by_testid(text, "skip-link")
    assert skip["attrs"]["href"] == "#main"
    elements = parse(text)
    body = next(i for i, e in enumerate(elements) if e["tag"] == "body")
    assert elements[body + 1] == skip  # the first thing in the page: the first a Tab reaches
    assert '<main id="main"' in text
    ids = {e["attrs"]["id"] for e in parse(text) if "id" in e["attrs"]}
    for label in (e for e in parse(text) if e["tag"] == "label"):
        assert label["attrs"]["for"] in ids
    for element in parse(text):
        assert element["tag"] not in ("div", "span", "td") or "onclick" not in element["attrs"]
    assert all(e["attrs"].get("scope") in ("col", "row") for e in parse(text) if e["tag"] == "th")
    sign_out = by_testid(text, "sign-out")[0]
    assert sign_out["tag"] == "button"


# --- no identity number and no pseudonym, anywhere ------------------------------------------------------------------


def _pseudonym_forms(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        stored = [row.pseudonym for row in conn.execute(select(models.persons.c.pseudonym)) if row.pseudonym]
    forms = []
    for value in stored:
        forms += [value.hex(), base64.b64encode(value).decode(), base64.urlsafe_b64encode(value).decode().rstrip("=")]
    return forms


def test_no_page_and_no_answer_carries_an_identity_number_or_a_pseudonym(registry: Registry, tmp_path: Path) -> None:
    """A real delivery through ``POST /v1/deliveries`` (sealed and pseudonymised as the gateway and the TPF
    do, with faults the controls find), then every page and every operator endpoint, in both languages, for
    both roles: none holds one of the export's identity numbers or one of the stored pseudonyms."""
    state = registry_key_dir_state(tmp_path, registry)
    export = tmp_path / "export.xml"
    write_synthetic_export(export, "1103", YEAR, 40, 5, errors=0.2)
    message = build_message(state, export, 1, work=tmp_path / "work")
    delivered = registry.client.post("/v1/deliveries", files=build_delivery(state, message).files())
    assert delivered.status_code == 201, delivered.text
    real = message.parsed.message_id
    forbidden = identity_numbers(export) + _pseudonym_forms(registry.engine)
    assert len(forbidden) > 40 * 3
    ids = dict(registry.filled.ids, real=real)
    paths = [p.format(**ids) for p in PAGES] + [
        f"/dashboard/submissions/{real}",
        f"/dashboard/submissions/{real}/findings",
        "/v1/operator/years",
        f"/v1/operator/years/{YEAR}/overview",
        f"/v1/operator/years/{YEAR}/intake",
        f"/v1/operator/years/{YEAR}/findings-by-rule",
        f"/v1/operator/years/{YEAR}/records-per-service-type",
        f"/v1/operator/submissions/{real}",
        f"/v1/operator/submissions/{real}/findings?limit=1000",
        f"/v1/operator/submissions/{ids['oslo']}",
    ]
    findings = registry.get(f"/v1/operator/submissions/{real}/findings?limit=1000").json()
    assert findings["total"] > 0  # the faults were found and are shown record by record
    checked = 0
    for token in (OPERATOR_TOKEN, AUDITOR_TOKEN):
        signed_in(registry, token)
        for path in paths:
            for lang in ("", "lang=en"):
                url = path + (("&" if "?" in path else "?") + lang if lang else "")
                body = registry.client.get(url).text
                checked += 1
                for value in forbidden:
                    assert value not in body, f"{url} carries a stored identity value ({value[:4]}...)"
    assert checked == 2 * 2 * len(paths)


def registry_key_dir_state(tmp_path: Path, registry: Registry) -> Path:
    """A state folder laid out as ``tests.e2e.messages`` expects (``state/keys/...``) over the session's keys."""
    settings = registry.client.app.state.settings  # type: ignore[attr-defined]
    state = tmp_path / "chain"
    state.mkdir()
    (state / "keys").symlink_to(Path(settings.key_dir).parent)
    return state


# --- the comparison statistics' national picture ----------------------------------------------------------------


def test_the_comparison_page_and_its_csv_show_what_the_api_says(registry: Registry) -> None:
    api = registry.get(f"/v1/operator/years/{YEAR}/comparison").json()
    signed_in(registry)
    shown = page(registry, f"/dashboard/comparison?year={YEAR}")
    rows = by_testid(shown, "comparison-row")
    assert [(r["attrs"]["data-level"], r["attrs"]["data-code"]) for r in rows] == [
        (a["level"], a["code"]) for a in api["areas"]
    ]
    assert rows[0]["attrs"]["data-code"] == "NO"
    country = api["areas"][0]
    share = country["share_80_plus"]["value"]
    expected = "skjult" if share is None else f"{share:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    assert expected in rows[0]["text"]
    assert by_testid(shown, "comparison-chart"), "the counties' rates are drawn"
    csv_answer = registry.client.get(f"/dashboard/comparison.csv?year={YEAR}")
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.text == figures_csv(api["areas"])


# --- every table as CSV, a municipality's history (issue 16) ------------------------------------------------------


def _csv(registry: Registry, path: str, status: int = 200) -> list[list[str]]:
    response = registry.client.get(path)
    assert response.status_code == status, response.text[:300]
    if status != 200:
        return []
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.reader(io.StringIO(response.text)))


def test_every_table_of_the_dashboard_comes_as_csv_with_every_row(registry: Registry) -> None:
    signed_in(registry)
    overview_rows = _csv(registry, f"/dashboard/tables/overview.csv?year={YEAR}")
    document = overview(registry)
    header = overview_rows[0]
    assert {"municipality", "name", "status", "records", "findings"} <= set(header)
    assert [row[header.index("municipality")] for row in overview_rows[1:]] == [
        row["municipality"] for row in document["municipalities"]
    ]
    statistics = page(registry, f"/dashboard/statistics?year={YEAR}")
    for table, testid in (("intake", "intake-table"), ("rules", "rules-table"), ("service-types", "services-table")):
        rows = _csv(registry, f"/dashboard/tables/{table}.csv?year={YEAR}")
        assert len(rows) > 1, table
        assert by_testid(statistics, f"csv-{table}"), f"no CSV link beside the {testid}"
    rules = registry.get(f"/v1/operator/years/{YEAR}/findings-by-rule").json()["rules"]
    rule_rows = _csv(registry, f"/dashboard/tables/rules.csv?year={YEAR}")
    assert [row[rule_rows[0].index("code")] for row in rule_rows[1:]] == [rule["code"] for rule in rules]
    assert _csv(registry, f"/dashboard/tables/flows.csv?year={YEAR}")[0]  # a header even with no flows
    _csv(registry, "/dashboard/tables/no-such-table.csv", status=404)
    # Findings by rule are an operator's: an auditor's CSV of them is refused like the table is withheld.
    signed_in(registry, AUDITOR_TOKEN)
    _csv(registry, f"/dashboard/tables/rules.csv?year={YEAR}", status=403)
    assert len(_csv(registry, f"/dashboard/tables/overview.csv?year={YEAR}")) == len(overview_rows)


def test_a_municipality_s_history_lists_every_submission_it_sent(registry: Registry) -> None:
    signed_in(registry)
    listed = registry.get(f"/v1/submissions?municipality=0301&year={YEAR}").json()["submissions"]
    assert len(listed) >= 2  # Oslo's first and its replacement
    text = page(registry, "/dashboard/municipalities/0301")
    rows = by_testid(text, "history-row")
    assert {(row["attrs"]["data-submission"], row["attrs"]["data-status"]) for row in rows} == {
        (s["submission_id"], s["status"]) for s in listed
    }
    assert text_of(text, "history-heading").startswith("Kommune 0301 Oslo")
    history = _csv(registry, "/dashboard/municipalities/0301.csv")
    assert {row[history[0].index("submission_id")] for row in history[1:]} == {s["submission_id"] for s in listed}
    # The overview links each municipality's name to its history.
    links = [e for e in by_testid(page(registry, f"/dashboard?year={YEAR}"), "history-link")]
    assert any(link["attrs"]["href"].startswith("/dashboard/municipalities/0301") for link in links)
    assert not by_testid(page(registry, "/dashboard/municipalities/9999"), "history-row")
    page(registry, "/dashboard/municipalities/abcd", status=404)


def test_the_findings_chart_has_a_scale(registry: Registry) -> None:
    text = page(signed_in(registry), f"/dashboard/statistics?year={YEAR}")
    ticks = [element["text"].strip() for element in by_testid(text, "rules-chart-tick")]
    assert len(ticks) == 5
    assert ticks[0].startswith("0")
