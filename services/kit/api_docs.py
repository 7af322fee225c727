"""Each service's API documentation: the OpenAPI document with how each operation authenticates, and Swagger UI at
``/docs`` from files the service serves itself.

FastAPI's own ``/docs`` loads Swagger UI's script from a public CDN: no documentation without internet, and a
script from elsewhere running on the origin of the signed-in pages. Here the page, its script and its style come
from the service (Swagger UI's files as the ``fastapi-offline`` package ships them), under a Content Security
Policy that admits nothing from anywhere else and no inline script (the page's start-up is a file of its own).

Authentication, declared in the OpenAPI document (FastAPI cannot see it: each route checks its caller itself, after
the request's shape, so a malformed request is answered 422 before the credential is looked at):

* ``bearerAuth``: an operation that can answer 401 takes a bearer token (a municipality's, an operator's, an
  auditor's or a gateway's, as its description says). ``tests/kit/test_api_docs.py`` holds every such operation to
  answering 401 without one.
* ``mutualTLS``: the messages between the services (a municipality's gateway to the TPF, the TPF to the registry)
  are authenticated by the connection's client certificate; their routes say so with ``MUTUAL_TLS``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, Response

BEARER: Final = "bearerAuth"
MUTUAL_TLS_SCHEME: Final = "mutualTLS"
#: ``openapi_extra`` of a route whose caller is the TLS client certificate of the connection.
MUTUAL_TLS: Final[dict[str, Any]] = {"security": [{MUTUAL_TLS_SCHEME: []}]}
DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = "/docs/assets"
# Swagger UI's files as fastapi-offline ships them (its own Python code is not used).
_ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_OWN_ASSETS: Final = Path(__file__).parent / "static" / "api-docs"
# Swagger UI draws its icons from data: URLs in its style sheet and sets styles through the DOM (allowed); it
# fetches only the OpenAPI document, from this origin.
DOCS_CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/start.js"></script>
</body>
</html>
"""


def _swagger_files() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline").joinpath("static")))


def _secured(response: Response, policy: str = DOCS_CONTENT_SECURITY_POLICY) -> Response:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-cache"
    return response


def documented_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with its security schemes, each operation's requirement, made once."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A token 'iplos up' prints (or the service's credentials file names): a municipality's,"
            " an operator's, an auditor's or a gateway's, as each operation says",
        },
        MUTUAL_TLS_SCHEME: {
            "type": "mutualTLS",
            "description": "The connection's client certificate, issued by the directory's CA to the sending party",
        },
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if "security" not in operation and "401" in operation.get("responses", {}):
                operation["security"] = [{BEARER: []}]
    app.openapi_schema = document
    return document


def install_api_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI, served from here) and the OpenAPI document with authentication declared. The app
    must be made with ``docs_url=None, redoc_url=None``."""
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]
    files = _swagger_files()

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> Response:
        page = _PAGE.format(title=app.title, assets=ASSETS_PATH, openapi=app.openapi_url)
        return _secured(HTMLResponse(page))

    @app.get(f"{ASSETS_PATH}/start.js", include_in_schema=False)
    async def start() -> Response:
        return _secured(FileResponse(_OWN_ASSETS / "start.js", media_type="text/javascript; charset=utf-8"))

    for name, media_type in _ASSETS.items():
        _asset_route(app, files / name, name, media_type)


def _asset_route(app: FastAPI, path: Path, name: str, media_type: str) -> None:
    async def asset() -> Response:
        return _secured(FileResponse(path, media_type=media_type))

    app.add_api_route(f"{ASSETS_PATH}/{name}", asset, methods=["GET"], include_in_schema=False)


def multipart_body(description: str, fields: dict[str, str]) -> dict[str, Any]:
    """``openapi_extra`` describing a ``multipart/form-data`` body of file parts (docs/envelope-v1.md, section 8),
    ``fields`` by name with what each holds; with the mutual-TLS requirement of the hops that carry such bodies."""
    return {
        **MUTUAL_TLS,
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": list(fields),
                        "properties": {
                            name: {"type": "string", "format": "binary", "description": text}
                            for name, text in fields.items()
                        },
                    }
                }
            },
        },
    }


def raw_body(description: str, media_types: dict[str, str], *, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` describing a body the route reads itself (streamed, not parsed by FastAPI), one entry per
    media type it takes."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                media_type: {"schema": schema or {"type": "string", "format": "binary", "description": text}}
                for media_type, text in media_types.items()
            },
        }
    }
