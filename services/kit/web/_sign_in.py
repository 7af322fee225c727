"""Who is asking for a page: the bearer header (``services.kit.credentials.authenticate``) or the sign-in session
cookie (``_sessions``), the exceptions a page raises instead of answering, and the checks on where a form came
from, which form token it carries and where a sign-in may lead."""

from __future__ import annotations

import hmac
import re
from typing import Final

from fastapi import Request

from services.kit.credentials import Credential, authenticate
from services.kit.problems import Problem, ProblemType
from services.kit.web._sessions import Session, SessionStore

COOKIE_NAME: Final = "iplos_session"
#: The sign-in form's own token (double-submit: the same value in this cookie and in the form) is kept this long.
SIGN_IN_COOKIE_MAX_AGE_S: Final = 3600
#: The form field every state-changing form carries: the session's form token (the sign-in form's, before one).
FORM_TOKEN_FIELD: Final = "csrf_token"  # noqa: S105 - a form field's name, not a secret
#: A cookie whose name starts so is taken by a browser only if it is ``Secure``, for ``Path=/`` and without a
#: ``Domain``: nobody on a sibling host or plain http can set it in its place. Over https only: a browser refuses
#: a ``Secure`` cookie from a plain-http origin (``plain_http`` development, the test client).
HOST_PREFIX: Final = "__Host-"


def cookie_name(request: Request, base: str) -> str:
    """The cookie's name on this request: ``__Host-<base>`` over https, ``<base>`` over plain http."""
    return HOST_PREFIX + base if request.url.scheme == "https" else base


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


def with_bearer(request: Request, token: str) -> Request:
    """The same request with ``Authorization: Bearer <token>`` in place of any it had."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", b"Bearer " + token.encode("latin-1")))
    return Request({**request.scope, "headers": headers})


def session_of(request: Request, sessions: SessionStore, credentials: list[Credential], cookie: str) -> Session | None:
    """The live session the request's cookie names, if any (``SessionStore.find``)."""
    session_id = request.cookies.get(cookie_name(request, cookie), "")
    return sessions.find(session_id, credentials) if session_id else None


def bearer_or_cookie(
    request: Request,
    credentials: list[Credential],
    roles: frozenset[str],
    *,
    sessions: SessionStore,
    cookie: str = COOKIE_NAME,
) -> Credential:
    """The caller's credential from its ``Authorization: Bearer`` header or, without one, from the live session
    the cookie named ``cookie`` holds the id of. 401/403 problems as :func:`authenticate`'s. The session, if
    that is where the credential came from, is kept on ``request.state.web_session`` (for the form token)."""
    if "authorization" in request.headers:
        return authenticate(request, credentials, roles)
    session = session_of(request, sessions, credentials, cookie)
    if session is None:
        raise Problem(ProblemType.UNAUTHENTICATED, "This endpoint needs a bearer token or a live sign-in session")
    if session.credential.role not in roles:
        raise Problem(ProblemType.FORBIDDEN)
    request.state.web_session = session
    return session.credential


def same_tokens(sent: object, expected: str) -> bool:
    """A form's token against the one it must carry, in constant time; anything but a non-empty string fails."""
    if not isinstance(sent, str) or not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


_UNSAFE_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(value: str | None, default: str) -> str:
    """Where to go after signing in: a path on this site only (no scheme, no ``//host``), else ``default``."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if _UNSAFE_NEXT.search(value):
        return default
    return value


def mount_root(request: Request) -> str:
    """Where the app is mounted (``root_path``, behind a proxy that serves it under a prefix); "" by default."""
    return str(request.scope.get("root_path", ""))


def relative_url(request: Request) -> str:
    """The request's own path and query, for coming back after signing in."""
    path = mount_root(request) + request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def is_cross_site(request: Request) -> bool:
    """Whether a state-changing request may have come from another site (CSRF), so it is refused.

    Browsers say where a request came from in ``Sec-Fetch-Site`` (every current one), and with a form's post
    send ``Origin``. Refused: a ``Sec-Fetch-Site`` other than ``same-origin`` or ``none`` (the person's own
    navigation); an ``Origin`` that is not this site's, or ``null`` (a sandboxed frame, a redirect across sites,
    a ``data:`` page: nothing the pages, which ask for ``Referrer-Policy: same-origin``, ever send); and a
    request with neither header, which no current browser sends with a form and so says nothing about where it
    came from. Together with the session's form token (:func:`same_tokens`), which another site cannot read."""
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if fetch_site is None and origin is None:
        return True
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    if origin is None:
        return False
    return origin != f"{request.url.scheme}://{request.url.netloc}"
