"""Who is asking for a page: the bearer header or the sign-in cookie (both checked by
``services.kit.credentials.authenticate``), the exceptions a page raises instead of answering, and the checks on
where a sign-in came from and where it may lead."""

from __future__ import annotations

import re
from typing import Final

from fastapi import Request

from services.kit.credentials import Credential, authenticate
from services.kit.problems import Problem, ProblemType

COOKIE_NAME: Final = "iplos_token"
#: How long a browser keeps the sign-in (the token itself lives as long as its entry in the credentials file).
COOKIE_MAX_AGE_S: Final = 8 * 3600


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


def bearer_or_cookie(
    request: Request, credentials: list[Credential], roles: frozenset[str], *, cookie: str = COOKIE_NAME
) -> Credential:
    """The caller's credential from its ``Authorization: Bearer`` header or, without one, from the sign-in
    cookie named ``cookie``; both through :func:`authenticate`. 401/403 problems as there."""
    if "authorization" in request.headers:
        return authenticate(request, credentials, roles)
    token = request.cookies.get(cookie, "")
    if not token.strip():
        raise Problem(ProblemType.UNAUTHENTICATED, "This endpoint needs a bearer token or the sign-in cookie")
    try:
        with_token = with_bearer(request, token)
    except UnicodeEncodeError:  # pragma: no cover - cookies are read as latin-1, so they encode back
        raise Problem(ProblemType.UNAUTHENTICATED, "The sign-in cookie is not a token") from None
    return authenticate(with_token, credentials, roles)


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
