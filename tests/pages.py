"""Signing in to a service's pages as a browser does, for the tests that drive the pages over HTTP without one
(a TestClient or an httpx client): fetch the sign-in form (its token, and the cookie that holds the same), post it
back from the same origin, and read a page's form token for its forms."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.kit.web import FORM_TOKEN_FIELD

#: What a browser sends with a form posted from the service's own page.
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
_FORM_TOKEN = re.compile(rf'name="{FORM_TOKEN_FIELD}" value="([^"]*)"')


def form_token(page: str) -> str:
    """The form token in a page's forms (all of a page's forms carry the same one)."""
    found = set(_FORM_TOKEN.findall(page))
    assert len(found) == 1, f"{len(found)} different form tokens on the page"
    return found.pop()


def sign_in(
    client: httpx.Client,
    prefix: str,
    token: str,
    *,
    base: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    """GET ``{prefix}/sign-in``, then POST the token with the form's token, as from the page itself (``headers``
    replace the same-origin ones). The answer is not followed (303 on success)."""
    form = client.get(f"{base}{prefix}/sign-in")
    assert form.status_code == 200, form.text[:300]
    data = {"token": token, FORM_TOKEN_FIELD: form_token(form.text), **extra}
    return client.post(
        f"{base}{prefix}/sign-in",
        data=data,
        headers=SAME_ORIGIN if headers is None else headers,
        follow_redirects=False,
    )


def signed_in_token(client: httpx.Client, page_path: str) -> str:
    """The form token of the signed-in session, from one of its pages."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text[:300]
    return form_token(page.text)
