"""The gateway's pages for municipal IT staff, through the real services: sign-in, their own submissions only,
each one's way through the chain, the receipt, and the control report with their own brukerNr."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html
from typer.testing import CliRunner

from iplos_chain import Chain, client
from iplos_cli.main import app
from iplos_testkit.exports import write_synthetic_export
from services.kit.web import FORM_TOKEN_FIELD
from shared.iplos.reporting_year import NORWEGIAN_TIME
from tests.pages import SAME_ORIGIN, sign_in, signed_in_token

pytestmark = pytest.mark.e2e
OWN, OTHER = "4601", "5001"
# The reporting year in progress: no other test on the shared chain reports it, so what is stored for it here is all
# there is for it.
NEW_YEAR = 2026
COOKIE = "iplos_gateway_session"


@pytest.fixture(scope="module")
def stored(chain: Chain, exports_dir: Path) -> dict:  # type: ignore[type-arg]
    path = exports_dir / f"{OWN}-pages.xml"
    write_synthetic_export(path, OWN, 2024, 80, 5, errors=0.1)
    token = chain.municipality_token(OWN)
    accepted = client.submit(path, chain.url("gateway"), token=token)
    final = client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)
    assert final["state"] == "stored"
    return final


def _signed_in(chain: Chain, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=chain.url("gateway"), timeout=30) as browser:
        response = sign_in(browser, "/pages", token, next="/pages/submissions")
        assert response.status_code == 303, response.text
        [cookie] = [
            c.lower() for c in response.headers.get_list("set-cookie") if c.startswith(f"__Host-{COOKIE}=")
        ]  # over https: the prefix
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert token.lower() not in cookie  # a session id, not the token
        yield browser


def _form(browser: httpx.Client, page: str) -> dict[str, str]:
    """A page's forms' fields: the session's form token."""
    return {FORM_TOKEN_FIELD: signed_in_token(browser, page)}


@pytest.fixture
def own(chain: Chain) -> Iterator[httpx.Client]:
    yield from _signed_in(chain, chain.municipality_token(OWN))


@pytest.fixture
def other(chain: Chain) -> Iterator[httpx.Client]:
    yield from _signed_in(chain, chain.municipality_token(OTHER))


def test_the_pages_need_a_sign_in(chain: Chain, stored: dict) -> None:  # type: ignore[type-arg]
    with httpx.Client(base_url=chain.url("gateway"), timeout=30) as anonymous:
        for path in ("/pages/submissions", f"/pages/submissions/{stored['submission_id']}"):
            response = anonymous.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/pages/sign-in?next=")
        refused = sign_in(anonymous, "/pages", "iplos_not-a-token")
        assert refused.status_code == 401
        assert COOKIE not in refused.headers.get("set-cookie", "")
        # From nowhere (neither Origin nor Sec-Fetch-Site) or a null origin: refused, whatever the token.
        for headers in ({}, {"Origin": "null"}):
            assert sign_in(anonymous, "/pages", chain.municipality_token(OWN), headers=headers).status_code == 403


def test_a_municipality_sees_its_own_submissions_with_their_way_through_the_chain(
    own: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
) -> None:
    page = html.fromstring(own.get("/pages/submissions").text)
    rows = page.xpath('//tr[@data-testid="submission-row"]')
    assert rows
    assert {row.get("data-municipality") for row in rows} == {OWN}
    row = next(r for r in rows if r.get("data-submission") == stored["submission_id"])
    assert row.get("data-state") == "stored"
    assert [(h.get("data-hop"), h.get("data-status")) for h in row.xpath(".//li")] == [
        ("gateway", "done"),
        ("tpf", "done"),
        ("registry", "done"),
    ]


def test_the_detail_shows_the_receipt_and_the_report_by_brukerNr(
    chain: Chain,
    own: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
) -> None:
    submission_id = stored["submission_id"]
    page = html.fromstring(own.get(f"/pages/submissions/{submission_id}").text)
    assert page.xpath('string(//*[@data-testid="receipt-status"])').startswith("stored")
    assert page.xpath('string(//*[@data-testid="receipt-records"])').replace("\u00a0", "") == "80"
    api = client.get_json(
        f"{chain.url('gateway')}/v1/submissions/{submission_id}/report", chain.municipality_token(OWN)
    )
    assert api["counts"], "the export was generated with faults"
    shown = {
        r.get("data-rule"): int(r.xpath('string(.//*[@data-testid="cell-count"])'))
        for r in page.xpath('//tr[@data-testid="report-rule-row"]')
    }
    assert shown == {c["code"]: c["count"] for c in api["counts"]}
    # No register extract for this municipality and year: the page says the register controls are still to come.
    assert api["register_check"] == "pending"
    assert page.xpath('string(//*[@data-testid="register-pending"])').startswith("Kontrollene mot folkeregisteret")
    bruker_nrs = [c.text_content() for c in page.xpath('//*[@data-testid="cell-bruker-nr"]')]
    assert bruker_nrs == [f["brukerNr"] or "–" for f in api["findings"]][: len(bruker_nrs)]
    # No identity number on the page: only brukerNr, references never, numbers never.
    assert not re.search(r"\b\d{11}\b", own.get(f"/pages/submissions/{submission_id}").text)


def test_another_municipality_sees_neither_the_row_nor_the_page(
    other: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
) -> None:
    listing = html.fromstring(other.get("/pages/submissions").text)
    assert stored["submission_id"] not in [r.get("data-submission") for r in listing.xpath("//tr")]
    unknown_id = "00000000-0000-4000-8000-000000000000"
    detail = other.get(f"/pages/submissions/{stored['submission_id']}")
    unknown = other.get(f"/pages/submissions/{unknown_id}")
    assert detail.status_code == unknown.status_code == 404
    # The same page, but for the address itself (in the language switch's links).
    assert detail.text.replace(stored["submission_id"], "ID") == unknown.text.replace(unknown_id, "ID")


def test_a_retry_posted_from_another_site_is_refused(
    own: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
) -> None:
    address = f"/pages/submissions/{stored['submission_id']}"
    response = own.post(f"{address}/retry", data=_form(own, address), headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 403
    assert own.post(f"{address}/retry", headers=SAME_ORIGIN).status_code == 403  # without the form token
    page = html.fromstring(own.get(f"/pages/submissions/{stored['submission_id']}").text)
    assert page.xpath('string(//*[@data-testid="fact-state"]/@data-state)') == "stored"


def test_the_page_comes_in_english_too(own: httpx.Client, stored: dict) -> None:  # type: ignore[type-arg]
    english = html.fromstring(own.get("/pages/submissions?lang=en").text)
    assert english.xpath('string(//h1[@data-testid="submissions-heading"])') == "Submissions"
    assert english.get("lang") == "en"
    norwegian = html.fromstring(own.get("/pages/submissions").text)
    assert norwegian.xpath('string(//h1[@data-testid="submissions-heading"])') == "Innsendinger"


def test_a_held_submission_is_confirmed_on_its_page_and_only_from_this_site(
    chain: Chain,
    own: httpx.Client,
    other: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
    exports_dir: Path,
) -> None:
    # Last in this module: it replaces the year that the tests above read.
    path = exports_dir / f"{OWN}-pages-cut.xml"
    write_synthetic_export(path, OWN, 2024, 20, 6)  # 20 of 80 persons: held by the registry
    token = chain.municipality_token(OWN)
    accepted = client.submit(path, chain.url("gateway"), token=token)
    held = client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)
    assert held["state"] == "held"
    address = f"/pages/submissions/{held['submission_id']}"
    page = html.fromstring(own.get(address).text)
    assert page.xpath('string(//*[@data-testid="fact-state"]/@data-state)') == "held"
    form = page.xpath('//button[@data-testid="confirm-replacement"]/ancestor::form')[0]
    assert form.get("method") == "post"
    stored_page = html.fromstring(own.get(f"/pages/submissions/{stored['submission_id']}").text)
    assert not stored_page.xpath('//*[@data-testid="confirm-replacement"]')  # only a held one has the button

    fields = {e.get("name"): e.get("value") for e in form.xpath(".//input")}
    assert fields == _form(own, address)
    assert own.post(form.get("action"), data=fields, headers={"Origin": "https://elsewhere.example"}).status_code == 403
    assert own.post(form.get("action"), headers=SAME_ORIGIN).status_code == 403  # without the form token
    other_form = _form(other, "/pages/submissions")
    assert other.post(form.get("action"), data=other_form, headers=SAME_ORIGIN).status_code == 404
    assert client.get_json(f"{chain.url('gateway')}/v1/submissions/{held['submission_id']}", token)["state"] == "held"

    done = own.post(form.get("action"), data=fields, headers=SAME_ORIGIN)
    assert done.status_code == 303
    page = html.fromstring(own.get(done.headers["location"]).text)
    assert page.xpath('string(//*[@data-testid="fact-state"]/@data-state)') == "stored"
    final = client.get_json(f"{chain.url('gateway')}/v1/submissions/{held['submission_id']}", token)
    assert (final["state"], final["receipt"]["supersedes"]) == ("stored", stored["submission_id"])


def test_the_comparison_page_has_tables_charts_and_every_figure_as_csv(
    chain: Chain,
    own: httpx.Client,
    other: httpx.Client,
    stored: dict,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    # A submission of its own: the module's first one is replaced by the held one's confirmation above, and a
    # replaced submission's statistics are the newer one's (410 at the registry, said so by the gateway).
    path = tmp_path / f"{OWN}-comparison.xml"
    write_synthetic_export(path, OWN, 2024, 60, 17)
    token = chain.municipality_token(OWN)
    accepted = client.submit(path, chain.url("gateway"), token=token)
    assert client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)["state"] == "stored"
    submission_id = accepted["submission_id"]
    with pytest.raises(client.ChainError) as replaced:
        client.get_json(f"{chain.url('gateway')}/v1/submissions/{stored['submission_id']}/comparison", token)
    assert (replaced.value.status, replaced.value.problem) == (410, "superseded")
    detail = html.fromstring(own.get(f"/pages/submissions/{submission_id}").text)
    link = detail.xpath('//a[@data-testid="comparison-link"]/@href')
    assert link == [f"/pages/submissions/{submission_id}/comparison"]
    page = html.fromstring(own.get(link[0]).text)
    api = client.get_json(
        f"{chain.url('gateway')}/v1/submissions/{submission_id}/comparison", chain.municipality_token(OWN)
    )
    mine = next(a for a in api["areas"] if a["level"] == "municipality" and a["year"] == 2024)
    assert mine["code"] == OWN
    # The key figures table: the municipality's column is the API's figure (shown or hidden, as the registry says).
    rows = {r.get("data-key"): r for r in page.xpath('//table[@data-testid="comparison-indicators"]//tr[@data-key]')}
    share = rows["share_80_plus"].xpath("./td")[1]  # after the unit: the municipality of the year
    value = mine["share_80_plus"]["value"]
    assert share.text_content() == (f"{value:g}" if value is not None else "skjult")
    assert page.xpath('//figure[@data-testid="chart-share_80_plus"]//svg')
    assert page.xpath('//table[@data-testid="comparison-ages"]//tr[@data-key]')
    # No register extract of 4601's 2024 here: the rates per inhabitant say so.
    rate = page.xpath('//table[@data-testid="comparison-rates"]//tr[@data-key="per_1000.0.all"]/td')[1]
    assert rate.get("data-note") == "no-register"
    # Every figure as CSV, the same as `iplos compare --csv` writes.
    csv_answer = own.get(f"/pages/submissions/{submission_id}/comparison.csv")
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0] == "level,code,name,year,indicator,key,value,note"
    assert any(line.startswith(f"municipality,{OWN},") and ",share_80_plus,," in line for line in lines)
    written = tmp_path / "compare.csv"
    result = CliRunner().invoke(
        app,
        [
            *("compare", submission_id, "--gateway", chain.url("gateway")),
            *("--token", chain.municipality_token(OWN), "--csv", str(written)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Comparison statistics for municipality {OWN}, year 2024" in result.output
    assert written.read_text(encoding="utf-8") == csv_answer.text
    # Another municipality reaches neither the page nor the file.
    assert other.get(f"/pages/submissions/{submission_id}/comparison").status_code == 404
    assert other.get(f"/pages/submissions/{submission_id}/comparison.csv").status_code == 404


def _uploads(client_: httpx.Client, path: Path, **headers: str) -> httpx.Response:
    """The upload form posted with its form token (from the list page) and ``headers``."""
    data = _form(client_, "/pages/submissions")
    with path.open("rb") as handle:
        return client_.post(
            "/pages/submissions/upload",
            data=data,
            files={"export": (path.name, handle, "application/xml")},
            headers=headers,
        )


def test_an_upload_from_the_page_becomes_a_submission_and_one_from_another_site_does_not(
    chain: Chain, own: httpx.Client, exports_dir: Path
) -> None:
    token = chain.municipality_token(OWN)
    before = client.get_json(f"{chain.url('gateway')}/v1/submissions", token)["submissions"]
    path = exports_dir / f"{OWN}-{NEW_YEAR}-upload.xml"
    write_synthetic_export(path, OWN, NEW_YEAR, 40, 17)
    refused = _uploads(own, path, **{"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert client.get_json(f"{chain.url('gateway')}/v1/submissions", token)["submissions"] == before

    sent = _uploads(own, path, **{"Sec-Fetch-Site": "same-origin"})
    assert sent.status_code == 303, sent.text
    assert "uploaded=1" in sent.headers["location"]
    submission = sent.headers["location"].split("/pages/submissions/", 1)[1].split("?", 1)[0]
    final = client.wait_final(chain.url("gateway"), submission, 60, token=token)
    assert (final["state"], final["records"]) == ("stored", 40)
    page = html.fromstring(own.get(sent.headers["location"]).text)
    assert page.xpath('//*[@data-testid="uploaded"]')


def test_an_upload_for_another_municipality_says_which_one_the_credential_is_for(
    own: httpx.Client, exports_dir: Path
) -> None:
    path = exports_dir / f"{OTHER}-{NEW_YEAR}-wrong-token.xml"
    write_synthetic_export(path, OTHER, NEW_YEAR, 10, 18)
    answer = _uploads(own, path, **{"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 403
    problem = html.fromstring(answer.text).xpath('//*[@data-testid="upload-problem"]')[0]
    assert problem.get("data-problem") == "municipality-not-permitted"
    assert f"may submit for municipality {OWN} (Bergen) only; the export is for {OTHER}" in problem.text_content()


def test_the_list_marks_the_current_submission_and_the_one_it_replaced(
    chain: Chain, other: httpx.Client, exports_dir: Path
) -> None:
    # Trondheim's, not Bergen's: Bergen uploaded for this year above, and the list must hold these two only.
    token = chain.municipality_token(OTHER)
    ids = []
    for vary in (0, 1):
        path = exports_dir / f"{OTHER}-{NEW_YEAR}-v{vary}.xml"
        write_synthetic_export(path, OTHER, NEW_YEAR, 30, 19, vary=vary)
        accepted = client.submit(path, chain.url("gateway"), token=token)
        assert client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)["state"] == "stored"
        ids.append(accepted["submission_id"])
    old, new = ids
    page = html.fromstring(other.get(f"/pages/submissions?year={NEW_YEAR}").text)
    standing = {
        row.get("data-submission"): row.xpath('.//*[@data-testid="cell-standing"]')[0].get("data-standing")
        for row in page.xpath('//tr[@data-testid="submission-row"]')
    }
    assert standing == {old: "superseded", new: "current"}
    # The reporting deadline of the year shown: the end of February of the next year.
    deadline = page.xpath('//*[@data-testid="deadline"]')[0]
    assert deadline.get("data-last-day") == f"{NEW_YEAR + 1}-02-28"
    today = dt.datetime.now(NORWEGIAN_TIME).date()
    days_left = (dt.date(NEW_YEAR + 1, 2, 28) - today).days
    # The page counted from its day, this from now: one more if Norwegian midnight fell in between.
    assert int(deadline.get("data-days-left")) in (days_left, days_left + 1)
    detail = html.fromstring(other.get(f"/pages/submissions/{old}").text)
    assert detail.xpath('//*[@data-testid="fact-standing"]')[0].get("data-standing") == "superseded"
    assert new in detail.xpath('//*[@data-testid="replaced-by"]')[0].get("href")
