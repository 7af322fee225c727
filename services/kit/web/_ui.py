"""``WebUI``: one service's pages (templates, labels, who may sign in), its sign-in and sign-out routes, the check
of every state-changing form (:meth:`WebUI.check_form`) and the error pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

import jinja2
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.kit.bodies import require_small_body
from services.kit.credentials import Credential, authenticate
from services.kit.problems import Problem
from services.kit.web._formatter import Formatter
from services.kit.web._labels import DEFAULT_LANGUAGE, LANGUAGES, language_of
from services.kit.web._sessions import Session, SessionStore, new_secret, sessions_of
from services.kit.web._sign_in import (
    COOKIE_NAME,
    FORM_TOKEN_FIELD,
    SIGN_IN_COOKIE_MAX_AGE_S,
    PageError,
    SignInRequired,
    bearer_or_cookie,
    cookie_name,
    is_cross_site,
    mount_root,
    relative_url,
    safe_next,
    same_tokens,
    session_of,
    with_bearer,
)
from services.kit.web._templates import STATIC_DIR, security_headers

STATIC_PATH: Final = "/static/kit"
#: The sign-in form's token cookie is the session cookie's name with this after it.
_SIGN_IN_SUFFIX: Final = "_sign_in"
#: What ``new_secret`` makes (``secrets.token_urlsafe(32)``): a sign-in cookie of any other shape is replaced.
_SECRET: Final = re.compile(r"[A-Za-z0-9_-]{43}")
log = structlog.get_logger("web")


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
    """The session cookie's name (``__Host-`` before it over https). Give each service its own: browsers do not
    tell ports apart, so two services on one host (the development chain on loopback) would otherwise overwrite
    each other's sign-in."""
    get_sessions: Callable[[Request], SessionStore] = sessions_of
    """The service's session store (by default ``app.state.web_sessions``, put there by its start-up)."""

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
            return bearer_or_cookie(
                request,
                self.get_credentials(request),
                self.roles,
                sessions=self.get_sessions(request),
                cookie=self.cookie,
            )
        except Problem as problem:
            if problem.status == 401:
                raise SignInRequired(relative_url(request)) from None
            raise PageError(403, "error_forbidden", testid="forbidden") from None

    async def caller(self, request: Request) -> Credential:
        """:meth:`credential` for an ``async`` route: the session is looked up in the thread pool, off the event
        loop (a database read, and now and then a write that may wait for SQLite's lock)."""
        return await run_in_threadpool(self.credential, request)

    def check_origin(self, request: Request) -> None:
        """403 for a state-changing request that may have come from another site (``is_cross_site``): checked from
        the headers alone, so a form with a body to stream (an upload) is refused before it is read."""
        if is_cross_site(request):
            log.warning("page form refused", reason="cross-site", route=_route(request))
            raise PageError(403, "error_cross_site", testid="cross-site")

    def check_form(self, request: Request, sent_token: object) -> Session:
        """A state-changing form (posted after :meth:`credential`): from this site, in a sign-in session, with that
        session's form token. 403 otherwise, before anything is done. A bearer header alone does not pass: the
        forms are the pages' (the API takes the same actions from a bearer token)."""
        self.check_origin(request)
        session: Session | None = getattr(request.state, "web_session", None)
        if session is None or not same_tokens(sent_token, session.form_token):
            log.warning("page form refused", reason="form-token", route=_route(request))
            raise PageError(403, "error_form_token", testid="form-token")
        return session

    def href(self, request: Request, path: str, lang: str, **params: Any) -> str:
        """A link to ``path`` on this site with ``params`` (None dropped) and the page's language."""
        query = {k: v for k, v in params.items() if v is not None and v != ""}
        if lang != DEFAULT_LANGUAGE:
            query["lang"] = lang
        root = mount_root(request)
        return root + path + (f"?{urlencode(query)}" if query else "")

    def language_links(
        self, request: Request, lang: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The current page (with ``params``, by default its own query) in each language: the header's switch."""
        base = {k: v for k, v in (request.query_params if params is None else params).items() if k != "lang"}
        root = mount_root(request)
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
        root = mount_root(request)
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
            # Every state-changing form carries it (FORM_TOKEN_FIELD); the sign-in form has its own in context.
            "csrf_field": FORM_TOKEN_FIELD,
            "csrf_token": _form_token(request),
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
            require_small_body(request)
            async with request.form(max_files=0, max_fields=5, max_part_size=8 * 1024) as form:
                raw_token, raw_next, raw_lang = form.get("token"), form.get("next"), form.get("lang")
                sent_form_token = form.get(FORM_TOKEN_FIELD)
            token = raw_token.strip() if isinstance(raw_token, str) else ""
            next_url = raw_next if isinstance(raw_next, str) else None
            lang = raw_lang if isinstance(raw_lang, str) and raw_lang in LANGUAGES else language_of(request)
            if is_cross_site(request):
                log.warning("sign-in refused", reason="cross-site")
                return self._sign_in_form(request, lang, next_url, "sign_in_cross_site", status=403)
            # Double submit: the form's token is the one this browser was given with the form (a cookie another
            # site can neither read nor set: SameSite=Strict, __Host- over https), so a sign-in into someone
            # else's credential cannot be posted from elsewhere (login CSRF).
            if not same_tokens(sent_form_token, request.cookies.get(self._sign_in_cookie(request), "")):
                log.warning("sign-in refused", reason="form-token")
                return self._sign_in_form(request, lang, next_url, "sign_in_form_expired", status=403)
            if not token:
                return self._sign_in_form(request, lang, next_url, "sign_in_missing", status=400)
            try:
                credential = authenticate(with_bearer(request, token), self.get_credentials(request), self.roles)
            except (Problem, UnicodeEncodeError):
                log.warning("sign-in refused", reason="credential")
                return self._sign_in_form(request, lang, next_url, "sign_in_failed", status=401)
            session_id = await run_in_threadpool(self._new_session, request, credential)
            log.info("signed in", credential=credential.name, role=credential.role)
            target = safe_next(next_url, self.href(request, self.home, lang))
            response = RedirectResponse(target, status_code=303)
            self._set_cookie(request, response, self.cookie, session_id, max_age=None)
            self._clear_cookie(request, response, self._sign_in_cookie(request))
            return security_headers(response)

        @router.post(self.sign_out_path)
        async def sign_out(request: Request) -> Response:
            lang = language_of(request)
            require_small_body(request)
            async with request.form(max_files=0, max_fields=2, max_part_size=1024) as form:
                sent_form_token = form.get(FORM_TOKEN_FIELD)
            sessions = self.get_sessions(request)
            session = await run_in_threadpool(session_of, request, sessions, self.get_credentials(request), self.cookie)
            if session is not None:
                # A cross-site post or a wrong token could sign someone out against their will: refused the same
                # way as any other form.
                request.state.web_session = session
                self.check_form(request, sent_form_token)
                await run_in_threadpool(sessions.end, session.session_id)
                log.info("signed out", credential=session.credential.name)
            else:
                self.check_origin(request)
            response = RedirectResponse(self.href(request, self.sign_in_path, lang, signed_out=1), status_code=303)
            self._clear_cookie(request, response, cookie_name(request, self.cookie))
            return security_headers(response)

        return router

    def _new_session(self, request: Request, credential: Credential) -> str:
        """A new session for ``credential``, ending the one this browser had (a new id at every sign-in: no
        session fixed in advance survives it); its id."""
        sessions = self.get_sessions(request)
        previous = session_of(request, sessions, self.get_credentials(request), self.cookie)
        if previous is not None:
            sessions.end(previous.session_id)
        return sessions.create(credential)

    def _sign_in_cookie(self, request: Request) -> str:
        return cookie_name(request, self.cookie + _SIGN_IN_SUFFIX)

    def _set_cookie(self, request: Request, response: Response, base: str, value: str, *, max_age: int | None) -> None:
        """A cookie for ``/`` only, out of scripts' reach, never sent with a request from another site, and over
        https ``Secure`` and ``__Host-`` prefixed. The session cookie has no ``Max-Age``: it goes when the browser
        closes, and the server ends the session sooner (idle, absolute, sign-out)."""
        response.set_cookie(
            cookie_name(request, base),
            value,
            max_age=max_age,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    def _clear_cookie(self, request: Request, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict")

    def _sign_in_form(
        self, request: Request, lang: str, next_url: str | None, error: str | None, *, status: int = 200
    ) -> HTMLResponse:
        """The sign-in form with its own token: the one this browser already holds if it holds one (a second tab's
        form stays good), a new one otherwise, set in the cookie beside it."""
        held = request.cookies.get(self._sign_in_cookie(request), "")
        pre_token = held if _SECRET.fullmatch(held) else new_secret()
        back = safe_next(next_url, "")
        context = {
            "action": mount_root(request) + self.sign_in_path,
            "next_url": back,
            "error_key": error,
            "signed_out": request.query_params.get("signed_out") == "1" and error is None,
            "csrf_token": pre_token,
        }
        link_params = {"next": back} if back else {}
        response = self.render(
            request, "kit/sign_in.html", context, user=None, status=status, lang=lang, link_params=link_params
        )
        if pre_token != held:
            self._set_cookie(
                request, response, self.cookie + _SIGN_IN_SUFFIX, pre_token, max_age=SIGN_IN_COOKIE_MAX_AGE_S
            )
        return response

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


def _form_token(request: Request) -> str:
    """The form token of the request's session (found by :meth:`WebUI.credential`), "" without one."""
    session: Session | None = getattr(request.state, "web_session", None)
    return session.form_token if session is not None else ""


def _route(request: Request) -> str:
    """The request's route template for a log line (as the access log has it): never the raw path and its ids."""
    route = getattr(request.scope.get("route"), "path", None)
    return route if isinstance(route, str) else "(no matching route)"
