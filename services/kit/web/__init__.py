"""Server-rendered pages for the services: Jinja2 templates, sign-in with a bearer token, two languages.

A service builds one :class:`WebUI` with its own template folder, its labels and the roles its pages admit,
includes :meth:`WebUI.router` (sign-in and sign-out) and calls :meth:`WebUI.install` (error pages, the kit's
static files). The registry's operator dashboard is the first user; the gateway can reuse the same pieces for
municipal IT staff (a municipality's credential there).

**Credentials and sessions.** There is no second kind of secret: the sign-in page takes the same bearer token the
API takes (``services/kit/credentials.py``), checks it with :func:`~services.kit.credentials.authenticate` and,
if it is known and its role admitted, starts a server-side session (``_sessions``): the cookie holds a random
session id (``HttpOnly``, ``SameSite=Strict``, ``Secure`` and ``__Host-`` over https), the service's database
the id's SHA-256 and the credential it was made from. A session ends at sign-out, after an idle timeout and after
an absolute lifetime (``session_idle_timeout_s``, ``session_max_age_s``), and with its credential's removal from
the credentials file. Every later request is checked by :func:`bearer_or_cookie` (a bearer header as the API
checks it, or the live session). A page without a valid credential redirects to the sign-in page
(:class:`SignInRequired`); a JSON endpoint answers 401 with a problem document as before.

**Forms.** Every state-changing form (sign-in, sign-out, a service's own) must come from this site
(:func:`is_cross_site`: ``Sec-Fetch-Site``/``Origin``; ``Origin: null`` and neither header are refused) and carry
a token (:data:`FORM_TOKEN_FIELD`): the session's (:meth:`WebUI.check_form`), or for the sign-in form a token
also held in a cookie of its own (double submit). Refusals are a 403 page and change nothing.

**Languages.** ``?lang=nb|en`` (default ``nb``) on every page; every label comes from one dictionary per
language (:data:`KIT_LABELS` merged with the service's own by :func:`merge_labels`, which refuses a key that is
missing in one language). Templates are autoescaped and fail on an unknown name (``StrictUndefined``), so a
label missing from a dictionary is an error, not an empty string.

Nothing here knows a domain: no municipality list, no registry table. Times are shown in Norwegian time, the
reporting calendar's clock (``shared.iplos.reporting_year``).

Modules: ``_ui`` (``WebUI``), ``_sign_in`` (credentials from a header or the session cookie, the cross-site
check), ``_sessions`` (the session store and its table), ``_labels``, ``_formatter`` and ``_templates``.
"""

from services.kit.web._formatter import Formatter
from services.kit.web._labels import DEFAULT_LANGUAGE, KIT_LABELS, LANGUAGES, Labels, language_of, merge_labels
from services.kit.web._sessions import (
    Session,
    SessionPolicy,
    SessionStore,
    form_token,
    sessions_of,
    web_sessions_table,
)
from services.kit.web._sign_in import (
    COOKIE_NAME,
    FORM_TOKEN_FIELD,
    HOST_PREFIX,
    PageError,
    SignInRequired,
    bearer_or_cookie,
    cookie_name,
    is_cross_site,
    safe_next,
)
from services.kit.web._templates import make_environment, security_headers
from services.kit.web._ui import STATIC_PATH, NavItem, WebUI

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_LANGUAGE",
    "FORM_TOKEN_FIELD",
    "HOST_PREFIX",
    "KIT_LABELS",
    "LANGUAGES",
    "STATIC_PATH",
    "Formatter",
    "Labels",
    "NavItem",
    "PageError",
    "Session",
    "SessionPolicy",
    "SessionStore",
    "SignInRequired",
    "WebUI",
    "bearer_or_cookie",
    "cookie_name",
    "form_token",
    "is_cross_site",
    "language_of",
    "make_environment",
    "merge_labels",
    "safe_next",
    "security_headers",
    "sessions_of",
    "web_sessions_table",
]
