"""The kit's server-rendered pages (services/kit/web.py) on a small app of their own, as a service uses them:
sign-in with a bearer token into a cookie, cookie-or-bearer credentials, languages, formatting, error pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import jinja2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.testclient import TestClient

from services.kit.credentials import Credential, hash_token, new_token
from services.kit.problems import Problem, install_problem_handlers
from services.kit.web import (
    COOKIE_NAME,
    KIT_LABELS,
    Formatter,
    PageError,
    WebUI,
    bearer_or_cookie,
    is_cross_site,
    make_environment,
    merge_labels,
    safe_next,
)

OPERATOR = new_token()
MUNICIPALITY = new_token()
AUDITOR = new_token()
CREDENTIALS = [
    Credential("op", "operator", hash_token(OPERATOR)),
    Credential("oslo", "municipality", hash_token(MUNICIPALITY), municipality="0301"),
    Credential("aud", "auditor", hash_token(AUDITOR)),
]
LABELS = {
    "nb": {"app_name": "Testportal", "hello": "Hei {name}"},
    "en": {"app_name": "Test portal", "hello": "Hi {name}"},
}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """A service's pages: the kit's frame, one page of its own, operators and municipalities admitted."""
    templates = tmp_path / "templates"
    (templates / "test").mkdir(parents=True)
    (templates / "test" / "home.html").write_text(
        '{% extends "kit/base.html" %}{% block title %}x{% endblock %}'
        '{% block content %}<h1 data-testid="hello">{{ t.hello.format(name=user.name) }}</h1>'
        '<p data-testid="payload">{{ payload }}</p>{% endblock %}',
        encoding="utf-8",
    )
    ui = WebUI(
        templates=make_environment(templates),
        labels=merge_labels(KIT_LABELS, LABELS),
        get_credentials=lambda request: CREDENTIALS,
        roles=frozenset({"operator", "municipality"}),
        prefix="/pages",
        home="/pages/home",
    )
    app = FastAPI()
    install_problem_handlers(app, body_limit=1 << 20)
    app.include_router(ui.router())

    @app.get("/pages/home", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        user = ui.credential(request)
        return ui.render(request, "test/home.html", {"payload": request.query_params.get("p", "")}, user=user)

    @app.get("/pages/missing", response_class=HTMLResponse)
    def missing(request: Request) -> HTMLResponse:
        ui.credential(request)
        raise PageError(404, "error_not_found", testid="not-found")

    @app.get("/api/thing")
    def thing(request: Request) -> dict[str, str]:
        return {"name": bearer_or_cookie(request, CREDENTIALS, frozenset({"operator"})).name}

    ui.install(app)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://portal.test") as test_client:
        yield test_client


def sign_in(client: TestClient, token: str, **extra: str) -> httpx.Response:
    return client.post("/pages/sign-in", data={"token": token, **extra}, follow_redirects=False)


def test_a_page_without_a_credential_redirects_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/pages/home?p=1&lang=en", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/pages/sign-in?next=%2Fpages%2Fhome%3Fp%3D1%26lang%3Den&lang=en"
    form = client.get(response.headers["location"])
    assert '<html lang="en">' in form.text
    assert 'name="next" value="/pages/home?p=1&amp;lang=en"' in form.text
    signed = sign_in(client, MUNICIPALITY, next="/pages/home?p=1&lang=en", lang="en")
    assert signed.headers["location"] == "/pages/home?p=1&lang=en"
    page = client.get("/pages/home?lang=en")
    assert 'data-testid="hello">Hi oslo</h1>' in page.text
    assert "(municipality)" in page.text


def test_the_cookie_attributes(client: TestClient) -> None:
    response = sign_in(client, OPERATOR)
    cookie = [part.strip() for part in response.headers["set-cookie"].split(";")]
    assert cookie[0] == f"{COOKIE_NAME}={OPERATOR}"
    lowered = [part.lower() for part in cookie]
    assert {"httponly", "samesite=strict", "path=/"} <= set(lowered)
    assert "secure" not in lowered
    secure = client.post("https://portal.test/pages/sign-in", data={"token": OPERATOR}, follow_redirects=False)
    assert "secure" in [part.strip().lower() for part in secure.headers["set-cookie"].split(";")]


def test_a_role_the_pages_do_not_admit_cannot_sign_in(client: TestClient) -> None:
    response = sign_in(client, AUDITOR)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    client.cookies.set(COOKIE_NAME, AUDITOR)  # a cookie set some other way: the page refuses the role
    forbidden = client.get("/pages/home")
    assert forbidden.status_code == 403
    assert 'data-testid="forbidden"' in forbidden.text


def test_the_cookie_is_checked_like_the_bearer_header(client: TestClient) -> None:
    assert client.get("/api/thing").status_code == 401
    assert client.get("/api/thing", headers={"Authorization": f"Bearer {OPERATOR}"}).json() == {"name": "op"}
    client.cookies.set(COOKIE_NAME, OPERATOR)
    assert client.get("/api/thing").json() == {"name": "op"}
    # A header, when there is one, is what counts (a wrong one is not rescued by a good cookie).
    assert client.get("/api/thing", headers={"Authorization": "Bearer nope"}).status_code == 401
    client.cookies.set(COOKIE_NAME, MUNICIPALITY)
    assert client.get("/api/thing").status_code == 403  # known, but not a role this endpoint takes
    client.cookies.set(COOKIE_NAME, OPERATOR + " ")
    assert client.get("/api/thing").json() == {"name": "op"}  # stripped, as a header's token is


def test_signing_out_clears_the_cookie(client: TestClient) -> None:
    sign_in(client, OPERATOR)
    assert client.get("/pages/home").status_code == 200
    out = client.post("/pages/sign-out?lang=en", follow_redirects=False)
    assert out.headers["location"] == "/pages/sign-in?signed_out=1&lang=en"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert client.get("/pages/home", follow_redirects=False).status_code == 303
    assert 'data-testid="signed-out"' in client.get(out.headers["location"]).text


def test_templates_escape_everything(client: TestClient) -> None:
    sign_in(client, OPERATOR)
    page = client.get("/pages/home", params={"p": "<script>alert(1)</script>"})
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_an_unknown_label_is_an_error_not_an_empty_string() -> None:
    environment = make_environment()
    with pytest.raises(jinja2.UndefinedError):
        environment.from_string("{{ t.nope }}").render(t={})


def test_a_page_error(client: TestClient) -> None:
    sign_in(client, OPERATOR)
    response = client.get("/pages/missing?lang=en")
    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.text
    assert "There is no such page." in response.text


def test_labels_must_match_across_languages() -> None:
    with pytest.raises(ValueError, match="differ between languages"):
        merge_labels({"nb": {"a": "1", "b": "2"}, "en": {"a": "1"}})
    with pytest.raises(ValueError, match="defined twice"):
        merge_labels(KIT_LABELS, {"nb": {"sign_in": "x"}, "en": {"sign_in": "y"}})
    with pytest.raises(ValueError, match="exactly"):
        merge_labels({"nb": {}})
    assert set(KIT_LABELS["nb"]) == set(KIT_LABELS["en"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/pages/home?x=1", "/pages/home?x=1"),
        (None, "/home"),
        ("", "/home"),
        ("//evil.example", "/home"),
        ("https://evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("/a\r\nSet-Cookie: x", "/home"),
        ("relative", "/home"),
        ("/" + "a" * 3000, "/home"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert safe_next(value, "/home") == expected


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "scheme": "http", "server": ("portal.test", 80), "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({}, False),
        ({"sec-fetch-site": "same-origin", "origin": "null"}, False),  # Referrer-Policy no-referrer sends null
        ({"sec-fetch-site": "none"}, False),
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site"}, True),
        ({"host": "portal.test", "origin": "http://portal.test"}, False),
        ({"host": "portal.test", "origin": "https://evil.example"}, True),
        ({"origin": "null"}, False),
    ],
)
def test_is_cross_site(headers: dict[str, str], cross: bool) -> None:
    assert is_cross_site(_request(headers)) is cross


def test_a_sign_in_posted_from_another_site_is_refused(client: TestClient) -> None:
    response = client.post(
        "/pages/sign-in", data={"token": OPERATOR}, headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_formatter() -> None:
    nb, en = Formatter("nb"), Formatter("en")
    assert (nb.number(1234567), en.number(1234567)) == ("1\u00a0234\u00a0567", "1,234,567")
    assert (nb.number(None), nb.percent(None)) == ("–", "–")
    assert (nb.percent(14.634, 2), en.percent(14.634, 2)) == ("14,63\u00a0%", "14.63%")
    assert (nb.day("2025-02-28"), en.day("2025-02-28")) == ("28.02.2025", "2025-02-28")
    # Times are Norwegian local time: 23:30 UTC on 28 February is 00:30 on 1 March in Oslo (CET, UTC+1).
    assert nb.stamp("2025-02-28T23:30:00Z") == "01.03.2025 00:30"
    assert en.datetime(dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC)) == "2025-07-01 12:00"  # CEST
    assert Formatter.iso(dt.datetime(2025, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "2025-07-01T10:00:00Z"
    )


def test_bearer_or_cookie_without_anything_is_401() -> None:
    with pytest.raises(Problem) as caught:
        bearer_or_cookie(_request({}), CREDENTIALS, frozenset({"operator"}))
    assert caught.value.status == 401


def test_no_label_is_given_twice_in_one_language() -> None:
    """A key written twice in a labels dictionary silently keeps the last (issue 16: a new page's caption took an
    existing key and broke the page that used it)."""
    import ast
    from collections import Counter

    root = Path(__file__).resolve().parents[2] / "services"
    for module in sorted(root.rglob("i18n.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
                assert [k for k, n in Counter(keys).items() if n > 1] == [], module
