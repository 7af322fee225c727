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

Nothing here knows a domain: no municipality list, no registry table. Times are shown in Norwegian time, the
reporting calendar's clock (``shared.iplos.reporting_year``).

Modules: ``_ui`` (``WebUI``), ``_sign_in`` (credentials from a header or the cookie), ``_labels``, ``_formatter``
and ``_templates``.
"""

from services.kit.web._formatter import Formatter
from services.kit.web._labels import DEFAULT_LANGUAGE, KIT_LABELS, LANGUAGES, Labels, language_of, merge_labels
from services.kit.web._sign_in import (
    COOKIE_MAX_AGE_S,
    COOKIE_NAME,
    PageError,
    SignInRequired,
    bearer_or_cookie,
    is_cross_site,
    safe_next,
)
from services.kit.web._templates import make_environment, security_headers
from services.kit.web._ui import STATIC_PATH, NavItem, WebUI

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
