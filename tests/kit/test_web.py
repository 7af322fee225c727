"""The kit's server-rendered pages (services/kit/web.py) on a small app of their own, as a service uses them:
sign-in with a bearer token into a server-side session, the session's expiry and revocation, cross-site and form
token checks, cookie-or-bearer credentials, languages, formatting, error pages."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jinja2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine, MetaData, func, select
from starlette.testclient import TestClient

from services.kit.credentials import Credential, hash_token, new_token
from services.kit.database import make_engine
from services.kit.problems import Problem, install_problem_handlers
from services.kit.web import (
    FORM_TOKEN_FIELD,
    HOST_PREFIX,
    KIT_LABELS,
    Formatter,
    PageError,
    SessionPolicy,
    SessionStore,
    WebUI,
    bearer_or_cookie,
    is_cross_site,
    make_environment,
    merge_labels,
    safe_next,
    web_sessions_table,
)
from tests.pages import SAME_ORIGIN, form_token, signed_in_token

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
COOKIE = "iplos_test_session"
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


class Clock:
    """The session store's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Portal:
    app: FastAPI
    engine: Engine
    clock: Clock
    credentials: list[Credential]
    actions: list[str]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """A service's pages: the kit's frame, one page and one form of its own, operators and municipalities admitted,
    its sessions in a SQLite database of its own."""
    templates = tmp_path / "templates"
    (templates / "test").mkdir(parents=True)
    (templates / "test" / "home.html").write_text(
        '{% extends "kit/base.html" %}{% block title %}x{% endblock %}'
        '{% block content %}<h1 data-testid="hello">{{ t.hello.format(name=user.name) }}</h1>'
        '<p data-testid="payload">{{ payload }}</p>'
        '<form method="post" action="/pages/act"><input type="hidden" name="{{ csrf_field }}" '
        'value="{{ csrf_token }}"></form>{% endblock %}',
        encoding="utf-8",
    )
    credentials = list(CREDENTIALS)
    ui = WebUI(
        templates=make_environment(templates),
        labels=merge_labels(KIT_LABELS, LABELS),
        get_credentials=lambda request: credentials,
        roles=frozenset({"operator", "municipality"}),
        prefix="/pages",
        home="/pages/home",
        cookie=COOKIE,
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    metadata = MetaData()
    table = web_sessions_table(metadata)
    metadata.create_all(engine)
    clock = Clock()
    actions: list[str] = []
    app = FastAPI()
    app.state.web_sessions = SessionStore(engine, table, SessionPolicy(), now=clock)
    install_problem_handlers(app, body_limit=1 << 20)
    app.include_router(ui.router())

    @app.get("/pages/home", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        user = ui.credential(request)
        return ui.render(request, "test/home.html", {"payload": request.query_params.get("p", "")}, user=user)

    @app.post("/pages/act")
    async def act(request: Request) -> RedirectResponse:
        user = ui.credential(request)
        async with request.form() as form:
            ui.check_form(request, form.get(FORM_TOKEN_FIELD))
        actions.append(user.name)
        return RedirectResponse("/pages/home", status_code=303)

    @app.get("/pages/missing", response_class=HTMLResponse)
    def missing(request: Request) -> HTMLResponse:
        ui.credential(request)
        raise PageError(404, "error_not_found", testid="not-found")

    @app.get("/api/thing")
    def thing(request: Request) -> dict[str, str]:
        caller = bearer_or_cookie(
            request, credentials, frozenset({"operator"}), sessions=app.state.web_sessions, cookie=COOKIE
        )
        return {"name": caller.name}

    ui.install(app)
    try:
        yield Portal(app, engine, clock, credentials, actions)
    finally:
        engine.dispose()


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, base_url="http://portal.test") as test_client:
        yield test_client


def sign_in(client: httpx.Client, token: str, *, headers: dict[str, str] | None = None, **extra: str) -> httpx.Response:
    form = client.get("/pages/sign-in")
    data = {"token": token, FORM_TOKEN_FIELD: form_token(form.text), **extra}
    return client.post(
        "/pages/sign-in", data=data, headers=SAME_ORIGIN if headers is None else headers, follow_redirects=False
    )


def sign_out(client: httpx.Client, token: str | None, headers: dict[str, str] | None = None) -> httpx.Response:
    data = {FORM_TOKEN_FIELD: token} if token is not None else {}
    return client.post(
        "/pages/sign-out?lang=en",
        data=data,
        headers=SAME_ORIGIN if headers is None else headers,
        follow_redirects=False,
    )


def session_rows(portal: Portal) -> list[dict[str, object]]:
    with portal.engine.connect() as conn:
        table = portal.app.state.web_sessions.table
        return [dict(row._mapping) for row in conn.execute(select(table))]


def copy_of(portal: Portal, client: TestClient) -> TestClient:
    """Another browser with a copy of ``client``'s session cookie (stolen, say)."""
    other = TestClient(portal.app, base_url="http://portal.test")
    other.cookies.set(COOKIE, client.cookies[COOKIE])
    return other


# --- sign-in ------------------------------------------------------------------------------------------------------


def test_a_page_without_a_credential_redirects_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/pages/home?p=1&lang=en", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/pages/sign-in?next=%2Fpages%2Fhome%3Fp%3D1%26lang%3Den&lang=en"
    form = client.get(response.headers["location"])
    assert '<html lang="en">' in form.text
    assert 'name="next" value="/pages/home?p=1&amp;lang=en"' in form.text
    signed = client.post(
        "/pages/sign-in",
        data={
            "token": MUNICIPALITY,
            "next": "/pages/home?p=1&lang=en",
            "lang": "en",
            FORM_TOKEN_FIELD: form_token(form.text),
        },
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/pages/home?p=1&lang=en"
    page = client.get("/pages/home?lang=en")
    assert 'data-testid="hello">Hi oslo</h1>' in page.text
    assert "(municipality)" in page.text


def test_the_cookie_holds_a_session_id_whose_sha256_alone_is_stored(portal: Portal, client: TestClient) -> None:
    response = sign_in(client, OPERATOR)
    assert response.status_code == 303
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    session = [part.strip() for part in cookies[COOKIE].split(";")]
    name, value = session[0].split("=", 1)
    assert name == COOKIE
    assert value != OPERATOR
    assert OPERATOR not in str(response.headers)
    assert len(value) >= 43  # 256 random bits
    lowered = [part.lower() for part in session]
    assert {"httponly", "samesite=strict", "path=/"} <= set(lowered)
    assert "secure" not in lowered  # plain http (the test client's); https below
    assert not [a for a in lowered if a.startswith(("max-age", "expires"))]  # gone with the browser, ended sooner
    # The sign-in form's own cookie is cleared once it has served.
    assert "max-age=0" in cookies[f"{COOKIE}_sign_in"].lower()
    [row] = session_rows(portal)
    assert row["id_sha256"] == hashlib.sha256(value.encode()).hexdigest()
    assert row["credential_name"] == "op"
    assert value not in str(row)


def test_over_https_the_cookies_are_secure_and_host_prefixed(client: TestClient) -> None:
    form = client.get("https://portal.test/pages/sign-in")
    [pre] = form.headers.get_list("set-cookie")
    assert pre.startswith(f"{HOST_PREFIX}{COOKIE}_sign_in=")
    assert "secure" in pre.lower()
    response = client.post(
        "https://portal.test/pages/sign-in",
        data={"token": OPERATOR, FORM_TOKEN_FIELD: form_token(form.text)},
        headers={"Origin": "https://portal.test"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [session] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{HOST_PREFIX}{COOKIE}=")]
    attributes = [part.strip().lower() for part in session.split(";")]
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= set(attributes)
    assert not [a for a in attributes if a.startswith("domain")]
    assert client.get("https://portal.test/pages/home").status_code == 200


def test_a_role_the_pages_do_not_admit_cannot_sign_in(portal: Portal, client: TestClient) -> None:
    response = sign_in(client, AUDITOR)
    assert response.status_code == 401
    assert COOKIE + "=" not in response.headers.get("set-cookie", "")
    assert session_rows(portal) == []


def test_a_token_in_the_cookie_is_no_session(client: TestClient) -> None:
    """The old cookie held the bearer token itself; now a token there opens nothing."""
    client.cookies.set(COOKIE, OPERATOR)
    assert client.get("/pages/home", follow_redirects=False).status_code == 303
    assert client.get("/api/thing").status_code == 401


def test_the_session_is_checked_like_the_bearer_header(client: TestClient) -> None:
    assert client.get("/api/thing").status_code == 401
    assert client.get("/api/thing", headers={"Authorization": f"Bearer {OPERATOR}"}).json() == {"name": "op"}
    sign_in(client, OPERATOR)
    assert client.get("/api/thing").json() == {"name": "op"}
    # A header, when there is one, is what counts (a wrong one is not rescued by a good session).
    assert client.get("/api/thing", headers={"Authorization": "Bearer nope"}).status_code == 401
    sign_in(client, MUNICIPALITY)
    assert client.get("/api/thing").status_code == 403  # known, but not a role this endpoint takes


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "neither Origin nor Sec-Fetch-Site"),
        ({"Origin": "null"}, "Origin null"),
        ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, "Origin null, whatever else"),
        ({"Sec-Fetch-Site": "cross-site"}, "cross-site"),
        ({"Sec-Fetch-Site": "same-site"}, "a sibling host"),
        ({"Origin": "https://evil.example"}, "another origin"),
    ],
)
def test_a_sign_in_not_from_the_page_itself_is_refused(
    portal: Portal, client: TestClient, headers: dict[str, str], why: str
) -> None:
    response = sign_in(client, OPERATOR, headers=headers)
    assert response.status_code == 403, why
    assert 'data-testid="sign-in-error"' in response.text
    assert COOKIE + "=" not in response.headers.get("set-cookie", "")
    assert session_rows(portal) == []


def test_a_sign_in_from_the_page_itself_is_taken_by_either_header(client: TestClient) -> None:
    assert sign_in(client, OPERATOR, headers={"Origin": "http://portal.test"}).status_code == 303
    assert sign_in(client, OPERATOR, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303


@pytest.mark.parametrize("form_value", [None, "", "x" * 43])
def test_a_sign_in_without_the_form_s_own_token_is_refused(
    portal: Portal, client: TestClient, form_value: str | None
) -> None:
    """Login CSRF with the headers right (an attacker's own client, say, or a browser that sent them): the form's
    token must be the one in this browser's sign-in cookie, which another site can neither read nor set."""
    client.get("/pages/sign-in")
    data = {"token": OPERATOR} | ({FORM_TOKEN_FIELD: form_value} if form_value is not None else {})
    response = client.post("/pages/sign-in", data=data, headers=SAME_ORIGIN, follow_redirects=False)
    assert response.status_code == 403
    assert "Innloggingsskjemaet var for gammelt" in response.text
    assert session_rows(portal) == []
    # Without the cookie, the form's token from another browser's form is worth nothing either.
    other = TestClient(portal.app, base_url="http://portal.test")
    token = form_token(client.get("/pages/sign-in").text)
    refused = other.post(
        "/pages/sign-in", data={"token": OPERATOR, FORM_TOKEN_FIELD: token}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert refused.status_code == 403


def test_each_sign_in_is_a_new_session_and_ends_the_one_before(portal: Portal, client: TestClient) -> None:
    sign_in(client, OPERATOR)
    first = client.cookies[COOKIE]
    before = copy_of(portal, client)
    sign_in(client, MUNICIPALITY)
    assert client.cookies[COOKIE] != first
    assert before.get("/pages/home", follow_redirects=False).status_code == 303
    assert len(session_rows(portal)) == 1


# --- sign-out -----------------------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_so_a_copied_cookie_stops_working(portal: Portal, client: TestClient) -> None:
    sign_in(client, OPERATOR)
    stolen = copy_of(portal, client)
    assert stolen.get("/pages/home").status_code == 200  # the copy works while the session lives
    out = sign_out(client, signed_in_token(client, "/pages/home"))
    assert out.status_code == 303
    assert out.headers["location"] == "/pages/sign-in?signed_out=1&lang=en"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert client.get("/pages/home", follow_redirects=False).status_code == 303
    assert 'data-testid="signed-out"' in client.get(out.headers["location"]).text
    # The copy is no session any more: the pages send it to sign in, the API answers 401.
    assert stolen.get("/pages/home", follow_redirects=False).status_code == 303
    assert stolen.get("/api/thing").status_code == 401
    assert session_rows(portal) == []


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, SAME_ORIGIN),
        ("", SAME_ORIGIN),
        ("0" * 64, SAME_ORIGIN),
        ("good", {"Sec-Fetch-Site": "cross-site"}),
        ("good", {"Origin": "null"}),
        ("good", {}),
    ],
)
def test_a_sign_out_without_its_token_or_from_another_site_is_refused(
    portal: Portal, client: TestClient, token: str | None, headers: dict[str, str]
) -> None:
    sign_in(client, OPERATOR)
    good = signed_in_token(client, "/pages/home")
    response = sign_out(client, good if token == "good" else token, headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert client.get("/pages/home").status_code == 200  # still signed in: nothing changed
    assert len(session_rows(portal)) == 1


# --- expiry and revocation ----------------------------------------------------------------------------------------


def test_a_session_ends_after_the_idle_timeout(portal: Portal, client: TestClient) -> None:
    sign_in(client, OPERATOR)
    portal.clock.now += dt.timedelta(minutes=29)
    assert client.get("/pages/home").status_code == 200  # used: idle counts from here
    portal.clock.now += dt.timedelta(minutes=29)
    assert client.get("/pages/home").status_code == 200
    portal.clock.now += dt.timedelta(minutes=30)
    assert client.get("/pages/home", follow_redirects=False).status_code == 303
    assert session_rows(portal) == []


def test_a_session_ends_at_its_absolute_lifetime_however_busy(portal: Portal, client: TestClient) -> None:
    sign_in(client, OPERATOR)
    for _ in range(7 * 3 + 2):  # every 20 minutes up to 7 h 40 min
        portal.clock.now += dt.timedelta(minutes=20)
        assert client.get("/pages/home").status_code == 200
    portal.clock.now = START + dt.timedelta(hours=8)
    assert client.get("/pages/home", follow_redirects=False).status_code == 303


def test_a_removed_credential_ends_its_sessions(portal: Portal, client: TestClient) -> None:
    sign_in(client, MUNICIPALITY)
    operator = TestClient(portal.app, base_url="http://portal.test")
    sign_in(operator, OPERATOR)
    portal.credentials[:] = [c for c in portal.credentials if c.name != "oslo"]
    assert client.get("/pages/home", follow_redirects=False).status_code == 303
    assert operator.get("/pages/home").status_code == 200  # the others' sessions go on
    # The same name with a new token is another credential: the old token's sessions do not pass to it.
    portal.credentials[:] = [Credential("op", "operator", hash_token(new_token()))]
    assert operator.get("/pages/home", follow_redirects=False).status_code == 303


def test_ended_sessions_are_swept_out_at_the_next_sign_in(portal: Portal, client: TestClient) -> None:
    for _ in range(3):
        sign_in(TestClient(portal.app, base_url="http://portal.test"), OPERATOR)
    assert len(session_rows(portal)) == 3
    portal.clock.now += dt.timedelta(hours=1)
    sign_in(client, OPERATOR)
    with portal.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(portal.app.state.web_sessions.table)).scalar() == 1


# --- forms --------------------------------------------------------------------------------------------------------


def test_a_form_needs_the_session_s_token_and_this_site(portal: Portal, client: TestClient) -> None:
    sign_in(client, OPERATOR)
    good = signed_in_token(client, "/pages/home")
    for data, headers in [
        ({}, SAME_ORIGIN),
        ({FORM_TOKEN_FIELD: "f" * 64}, SAME_ORIGIN),
        ({FORM_TOKEN_FIELD: good}, {"Sec-Fetch-Site": "cross-site"}),
        ({FORM_TOKEN_FIELD: good}, {}),
    ]:
        refused = client.post("/pages/act", data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, (data, headers)
        assert 'data-testid="form-token"' in refused.text or 'data-testid="cross-site"' in refused.text
    # Another session's token is not this one's.
    other = TestClient(portal.app, base_url="http://portal.test")
    sign_in(other, OPERATOR)
    assert signed_in_token(other, "/pages/home") != good
    assert other.post("/pages/act", data={FORM_TOKEN_FIELD: good}, headers=SAME_ORIGIN).status_code == 403
    # A bearer header is no session: the forms are the pages' (the API takes the same actions).
    bearer = {"Authorization": f"Bearer {OPERATOR}", **SAME_ORIGIN}
    assert TestClient(portal.app).post("/pages/act", data={}, headers=bearer).status_code == 403
    assert portal.actions == []
    done = client.post("/pages/act", data={FORM_TOKEN_FIELD: good}, headers=SAME_ORIGIN, follow_redirects=False)
    assert done.status_code == 303
    assert portal.actions == ["op"]


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
        ({}, True),  # neither header: nothing says where it came from
        ({"sec-fetch-site": "same-origin", "origin": "null"}, True),
        ({"sec-fetch-site": "same-origin"}, False),
        ({"sec-fetch-site": "none"}, False),
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site"}, True),
        ({"host": "portal.test", "origin": "http://portal.test"}, False),
        ({"host": "portal.test", "origin": "https://evil.example"}, True),
        ({"sec-fetch-site": "same-origin", "origin": "https://evil.example"}, True),
        ({"origin": "null"}, True),
    ],
)
def test_is_cross_site(headers: dict[str, str], cross: bool) -> None:
    assert is_cross_site(_request(headers)) is cross


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


def test_bearer_or_cookie_without_anything_is_401(portal: Portal) -> None:
    with pytest.raises(Problem) as caught:
        bearer_or_cookie(
            _request({}), CREDENTIALS, frozenset({"operator"}), sessions=portal.app.state.web_sessions, cookie=COOKIE
        )
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


def test_a_sign_in_or_out_is_a_small_form_refused_before_it_is_read(portal: Portal, client: TestClient) -> None:
    """Anyone may post the sign-in form: the form parser would read a URL-encoded body of any size into memory, so
    a form is refused on its headers when it is large (413) or does not say how large it is (400)."""
    form = {**SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
    large = client.post("/pages/sign-in", content=b"token=" + b"x" * (64 * 1024), headers=form)
    assert (large.status_code, large.json()["type"]) == (413, "urn:iplos-chain:problem:body-too-large")
    chunked = client.post("/pages/sign-out", content=iter([b"a=1"]), headers=form)
    assert (chunked.status_code, chunked.json()["type"]) == (400, "urn:iplos-chain:problem:invalid-request")
    assert session_rows(portal) == []
