"""The pages' templates (the service's folders, then the kit's) and the security headers every page is sent with."""

from __future__ import annotations

from pathlib import Path
from typing import Final, TypeVar

import jinja2
from fastapi.responses import Response

# The kit's templates and style sheets stay beside the kit's modules (services/kit/templates, services/kit/static).
TEMPLATES_DIR: Final = Path(__file__).parents[1] / "templates"
STATIC_DIR: Final = Path(__file__).parents[1] / "static"

#: Same-origin everything, no inline script or style, no framing: the pages need nothing else.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

AnyResponse = TypeVar("AnyResponse", bound=Response)


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
