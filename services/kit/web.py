"""Server-rendered pages for the services: Jinja2 templates, sign-in with a bearer token, two languages.

A service builds one :class:`WebUI` with its own template folder, its labels and the roles its pages admit,
includes :meth:`WebUI.router` (sign-in and sign-out) and calls :meth:`WebUI.install` (error pages, the kit's
static files). The registry's operator dashboard is the first user; the gateway can reuse the same pieces for
municipal IT staff (a municipality's credential there).

**Credentials.** There is no second kind of secret: the sign-in page takes the same bearer token the API takes
(``services/kit/credentials.py``), checks it with :func:`~services.kit.credentials.authenticate` and, if it is
known and its role admitted, puts it in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` when the request
came over https). Every later request is checked exactly like a bearer header, by :func:`bearer_or_cookie`:
the cookie's token goes through ``authenticate`` (every entry compared in constant time), so revoking a
credential in the service's file signs its cookie out too. A page without a valid credential redirects to the
sign-in page (:class:`SignInRequired`); a JSON endpoint answers 401 with a problem document as before.

**Languages.** ``?lang=nb|en`` (default ``nb``) on every page; every label comes from one dictionary per
language (:data:`KIT_LABELS` merged with the service's own by :func:`merge_labels`, which refuses a key that is
missing in one language). Templates are autoescaped and fail on an unknown name (``StrictUndefined``), so a
label missing from a dictionary is an error, not an empty string.

Nothing here knows a domain: no municipality list, no registry table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.kit.credentials import Credential, authenticate
from services.kit.problems import Problem

__all__ = [
    "COOKIE_MAX_AGE_S",
    "COOKIE_NAME",
    "DEFAULT_LANGUAGE",
    "KIT_LABELS",
    "LANGUAGES",
    "STATIC_PATH",
    "Formatter",
    "Labels",
    "NavItem",
    "PageError",
    "SignInRequired",
    "WebUI",
    "bearer_or_cookie",
    "is_cross_site",
    "language_of",
    "make_environment",
    "merge_labels",
    "safe_next",
    "security_headers",
]

COOKIE_NAME: Final = "iplos_token"
#: How long a browser keeps the sign-in (the token itself lives as long as its entry in the credentials file).
COOKIE_MAX_AGE_S: Final = 8 * 3600
LANGUAGES: Final = ("nb", "en")
DEFAULT_LANGUAGE: Final = "nb"
STATIC_PATH: Final = "/static/kit"
TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"

#: Same-origin everything, no inline script or style, no framing: the pages need nothing else.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

Labels = Mapping[str, str]
AnyResponse = TypeVar("AnyResponse", bound=Response)

#: The kit's own labels: the frame of every page (skip link, language switch, sign-in, errors).
KIT_LABELS: Final[dict[str, dict[str, str]]] = {
    "nb": {
        "skip_to_content": "Hopp til hovedinnholdet",
        "main_navigation": "Hovedmeny",
        "language": "Språk",
        "language_name_nb": "Norsk (bokmål)",
        "language_name_en": "English",
        "signed_in_as": "Logget inn som",
        "role_operator": "operatør",
        "role_auditor": "revisor",
        "role_municipality": "kommune",
        "sign_in": "Logg inn",
        "sign_in_title": "Logg inn",
        "sign_in_intro": "Lim inn tilgangsnøkkelen din (den samme som API-et tar imot som bearer-token).",
        "sign_in_token": "Tilgangsnøkkel",
        "sign_in_token_hint": "Nøkkelen lagres bare i en informasjonskapsel i denne nettleseren (HttpOnly).",
        "sign_in_failed": "Nøkkelen er ukjent, eller rollen har ikke tilgang til disse sidene.",
        "sign_in_missing": "Lim inn en tilgangsnøkkel.",
        "sign_in_cross_site": "Innloggingen kom fra et annet nettsted og ble avvist.",
        "sign_out": "Logg ut",
        "signed_out": "Du er logget ut.",
        "error_title": "Feil",
        "error_forbidden": "Rollen din har ikke tilgang til denne siden.",
        "error_not_found": "Siden finnes ikke.",
        "back_to_start": "Til forsiden",
    },
    "en": {
        "skip_to_content": "Skip to main content",
        "main_navigation": "Main menu",
        "language": "Language",
        "language_name_nb": "Norsk (bokmål)",
        "language_name_en": "English",
        "signed_in_as": "Signed in as",
        "role_operator": "operator",
        "role_auditor": "auditor",
        "role_municipality": "municipality",
        "sign_in": "Sign in",
        "sign_in_title": "Sign in",
        "sign_in_intro": "Paste your access token (the same one the API takes as a bearer token).",
        "sign_in_token": "Access token",
        "sign_in_token_hint": "The token is kept only in a cookie in this browser (HttpOnly).",
        "sign_in_failed": "The token is not known, or its role may not use these pages.",
        "sign_in_missing": "Paste an access token.",
        "sign_in_cross_site": "The sign-in came from another site and was refused.",
        "sign_out": "Sign out",
        "signed_out": "You are signed out.",
        "error_title": "Error",
        "error_forbidden": "Your role may not see this page.",
        "error_not_found": "There is no such page.",
        "back_to_start": "To the start page",
    },
}


def merge_labels(*dictionaries: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """One dictionary per language from several (the kit's, a service's); every language must have exactly the
    same keys, and no key may be defined twice."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for dictionary in dictionaries:
        if set(dictionary) != set(LANGUAGES):
            raise ValueError(f"labels must be given for exactly {LANGUAGES}")
        keys = {lang: set(dictionary[lang]) for lang in LANGUAGES}
        first = keys[LANGUAGES[0]]
        for lang in LANGUAGES[1:]:
            if keys[lang] != first:
                raise ValueError(f"labels differ between languages: {sorted(keys[lang] ^ first)}")
        twice = first & set(merged[LANGUAGES[0]])
        if twice:
            raise ValueError(f"labels defined twice: {sorted(twice)}")
        for lang in LANGUAGES:
            merged[lang].update(dictionary[lang])
    return merged


def language_of(request: Request) -> str:
    """``?lang=`` if it names a supported language, else the default (nb)."""
    lang = request.query_params.get("lang", "")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


# --- formatting -------------------------------------------------------------------------------------------------

try:
    LOCAL_ZONE: dt.tzinfo = ZoneInfo("Europe/Oslo")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without time-zone data: UTC, labelled as such
    LOCAL_ZONE = dt.UTC


@dataclass(frozen=True)
class Formatter:
    """Numbers, dates and times the way each language writes them (times in Norwegian local time)."""

    lang: str

    def number(self, value: int | float | None) -> str:
        if value is None:
            return "–"
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
        if self.lang == "nb":
            text = text.replace(",", "\u00a0").replace(".", ",")
        return text

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") + "\u00a0%" if self.lang == "nb" else text + "%"

    def date(self, value: dt.date | None) -> str:
        if value is None:
            return "–"
        return value.strftime("%d.%m.%Y") if self.lang == "nb" else value.isoformat()

    def local(self, value: dt.datetime) -> dt.datetime:
        return value.astimezone(LOCAL_ZONE)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "–"
        local = self.local(value)
        return f"{self.date(local.date())} {local:%H:%M}"

    def stamp(self, value: str | None) -> str:
        """A UTC timestamp as the APIs write it (``2025-02-27T13:05:00Z``), in local time."""
        if value is None:
            return "–"
        return self.datetime(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC))

    def day(self, value: str | None) -> str:
        """An ISO date (``2025-02-28``)."""
        return "–" if value is None else self.date(dt.date.fromisoformat(value))

    @staticmethod
    def iso(value: dt.datetime | dt.date) -> str:
        """For ``<time datetime="...">``: machine-readable, in UTC for instants."""
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.isoformat()


# --- templates --------------------------------------------------------------------------------------------------


def make_environment(*template_dirs: Path) -> jinja2.Environment:
    """A Jinja2 environment over the service's template folders and then the kit's (``kit/base.html``,
    ``kit/sign_in.html``, ``kit/error.html``): autoescaped, and an unknown name is an error."""
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in (*template_dirs, TEMPLATES_DIR)])
    return jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(("html", "svg", "xml"), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def security_headers(response: AnyResponse) -> AnyResponse:
    """No caching of what a signed-in person saw, no framing, no referrer carrying a submission id off the site."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# --- credentials ------------------------------------------------------------------------------------------------


class SignInRequired(Exception):
    """A page was asked for without a valid credential: answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign-in required")
        self.next_url = next_url


class PageError(Exception):
    """A page answers ``status`` with the kit's error page, saying ``message_key`` (a label)."""

    def __init__(self, status: int, message_key: str, *, testid: str = "page-error") -> None:
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key
        self.testid = testid


def _with_bearer(request: Request, token: str) -> Request:
    """The same request with ``Authorization: Bearer <token>`` in place of any it had."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", b"Bearer " + token.encode("latin-1")))
    return Request({**request.scope, "headers": headers})


def bearer_or_cookie(
    request: Request, credentials: list[Credential], roles: frozenset[str], *, cookie: str = COOKIE_NAME
) -> Credential:
    """The caller's credential from its ``Authorization: Bearer`` header or, without one, from the sign-in
    cookie named ``cookie``; both through :func:`authenticate`. 401/403 problems as there."""
    if "authorization" in request.headers:
        return authenticate(request, credentials, roles)
    token = request.cookies.get(cookie, "")
    if not token.strip():
        raise Problem("unauthenticated", 401, "This endpoint needs a bearer token or the sign-in cookie")
    try:
        with_token = _with_bearer(request, token)
    except UnicodeEncodeError:  # pragma: no cover - cookies are read as latin-1, so they encode back
        raise Problem("unauthenticated", 401, "The sign-in cookie is not a token") from None
    return authenticate(with_token, credentials, roles)


_UNSAFE_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(value: str | None, default: str) -> str:
    """Where to go after signing in: a path on this site only (no scheme, no ``//host``), else ``default``."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if _UNSAFE_NEXT.search(value):
        return default
    return value


def _root(request: Request) -> str:
    """Where the app is mounted (``root_path``, behind a proxy that serves it under a prefix); "" by default."""
    return str(request.scope.get("root_path", ""))


def relative_url(request: Request) -> str:
    """The request's own path and query, for coming back after signing in."""
    path = _root(request) + request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


# --- the UI ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool = False
    testid: str = ""


@dataclass
class WebUI:
    """One service's pages: templates, labels, who may sign in, and where the pages live.

    ``get_credentials`` gives the service's credential list for a request (e.g. from ``app.state``); ``roles``
    are the roles admitted to the pages at all (finer rules are the pages' own). ``home`` is where a signed-in
    person lands; the sign-in and sign-out pages are ``{prefix}/sign-in`` and ``{prefix}/sign-out``.
    ``app_name`` is the label key of the service's name in the page header.
    """

    templates: jinja2.Environment
    labels: dict[str, dict[str, str]]
    get_credentials: Callable[[Request], list[Credential]]
    roles: frozenset[str]
    prefix: str
    home: str
    app_name: str = "app_name"
    static_paths: tuple[str, ...] = field(default_factory=tuple)
    """Extra style sheets (absolute paths) every page links after the kit's."""
    cookie: str = COOKIE_NAME
    """The sign-in cookie's name. Give each service its own: browsers do not tell ports apart, so two services
    on one host (the development chain on loopback) would otherwise overwrite each other's sign-in."""

    @property
    def sign_in_path(self) -> str:
        return f"{self.prefix}/sign-in"

    @property
    def sign_out_path(self) -> str:
        return f"{self.prefix}/sign-out"

    # -- per request --

    def credential(self, request: Request) -> Credential:
        """The page's caller, or :class:`SignInRequired` (401) / :class:`PageError` (403)."""
        try:
            return bearer_or_cookie(request, self.get_credentials(request), self.roles, cookie=self.cookie)
        except Problem as problem:
            if problem.status == 401:
                raise SignInRequired(relative_url(request)) from None
            raise PageError(403, "error_forbidden", testid="forbidden") from None

    def href(self, request: Request, path: str, lang: str, **params: Any) -> str:
        """A link to ``path`` on this site with ``params`` (None dropped) and the page's language."""
        query = {k: v for k, v in params.items() if v is not None and v != ""}
        if lang != DEFAULT_LANGUAGE:
            query["lang"] = lang
        root = _root(request)
        return root + path + (f"?{urlencode(query)}" if query else "")

    def language_links(
        self, request: Request, lang: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The current page (with ``params``, by default its own query) in each language: the header's switch."""
        base = {k: v for k, v in (request.query_params if params is None else params).items() if k != "lang"}
        root = _root(request)
        links = []
        for code in LANGUAGES:
            query = base | ({"lang": code} if code != DEFAULT_LANGUAGE else {})
            url = root + request.url.path + (f"?{urlencode(query)}" if query else "")
            links.append({"code": code, "href": url, "current": code == lang})
        return links

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        user: Credential | None,
        nav: Iterable[NavItem] = (),
        status: int = 200,
        lang: str | None = None,
        link_params: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """``template`` with the page frame's context; ``lang`` overrides the query's (a form posted it),
        ``link_params`` the query the language switch keeps."""
        lang = lang if lang in LANGUAGES else language_of(request)
        root = _root(request)
        page = {
            "lang": lang,
            "t": self.labels[lang],
            "fmt": Formatter(lang),
            "app_name": self.labels[lang][self.app_name],
            "language_links": self.language_links(request, lang, link_params),
            "kit_static": root + STATIC_PATH,
            "style_sheets": [root + path for path in self.static_paths],
            "user": user,
            "role_label": self.labels[lang].get(f"role_{user.role}", user.role) if user else "",
            "sign_out_url": self.href(request, self.sign_out_path, lang),
            "home_url": self.href(request, self.home, lang),
            "nav": list(nav),
            **context,
        }
        html = self.templates.get_template(template).render(page)
        return security_headers(HTMLResponse(html, status_code=status))

    # -- sign-in and sign-out --

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get(self.sign_in_path, response_class=HTMLResponse)
        async def sign_in_page(request: Request) -> HTMLResponse:
            lang = language_of(request)
            return self._sign_in_form(request, lang, request.query_params.get("next"), None)

        @router.post(self.sign_in_path, response_class=HTMLResponse)
        async def sign_in(request: Request) -> Response:
            async with request.form(max_files=0, max_fields=4, max_part_size=8 * 1024) as form:
                raw_token, raw_next, raw_lang = form.get("token"), form.get("next"), form.get("lang")
            token = raw_token.strip() if isinstance(raw_token, str) else ""
            next_url = raw_next if isinstance(raw_next, str) else None
            lang = raw_lang if isinstance(raw_lang, str) and raw_lang in LANGUAGES else language_of(request)
            if is_cross_site(request):
                return self._sign_in_form(request, lang, next_url, "sign_in_cross_site", status=403)
            if not token:
                return self._sign_in_form(request, lang, next_url, "sign_in_missing", status=400)
            try:
                authenticate(_with_bearer(request, token), self.get_credentials(request), self.roles)
            except (Problem, UnicodeEncodeError):
                return self._sign_in_form(request, lang, next_url, "sign_in_failed", status=401)
            target = safe_next(next_url, self.href(request, self.home, lang))
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(
                self.cookie,
                token,
                max_age=COOKIE_MAX_AGE_S,
                path="/",
                secure=request.url.scheme == "https",
                httponly=True,
                samesite="strict",
            )
            return security_headers(response)

        @router.post(self.sign_out_path)
        async def sign_out(request: Request) -> Response:
            lang = language_of(request)
            response = RedirectResponse(self.href(request, self.sign_in_path, lang, signed_out=1), status_code=303)
            response.delete_cookie(
                self.cookie, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
            )
            return security_headers(response)

        return router

    def _sign_in_form(
        self, request: Request, lang: str, next_url: str | None, error: str | None, *, status: int = 200
    ) -> HTMLResponse:
        back = safe_next(next_url, "")
        context = {
            "action": _root(request) + self.sign_in_path,
            "next_url": back,
            "error_key": error,
            "signed_out": request.query_params.get("signed_out") == "1" and error is None,
        }
        link_params = {"next": back} if back else {}
        return self.render(
            request, "kit/sign_in.html", context, user=None, status=status, lang=lang, link_params=link_params
        )

    # -- wiring --

    def install(self, app: FastAPI) -> None:
        """Error pages for :class:`SignInRequired` and :class:`PageError`, and the kit's static files."""

        async def on_sign_in_required(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, SignInRequired)
            lang = language_of(request)
            target = self.href(request, self.sign_in_path, lang, next=exc.next_url)
            return security_headers(RedirectResponse(target, status_code=303))

        async def on_page_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, PageError)
            context = {"message_key": exc.message_key, "status": exc.status, "testid": exc.testid}
            return self.render(request, "kit/error.html", context, user=None, status=exc.status)

        app.add_exception_handler(SignInRequired, on_sign_in_required)
        app.add_exception_handler(PageError, on_page_error)
        if not any(getattr(route, "path", None) == STATIC_PATH for route in app.routes):
            app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="kit-static")


def is_cross_site(request: Request) -> bool:
    """A form posted from another site (CSRF: a sign-in, or any other state-changing form). Browsers say where a
    request came from in ``Sec-Fetch-Site``; one that does not may send ``Origin`` (``null`` says nothing: a
    privacy setting such as ``Referrer-Policy: no-referrer`` sends it for same-origin posts too)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return origin != f"{request.url.scheme}://{request.url.netloc}"
