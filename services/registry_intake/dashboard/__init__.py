"""The registry's operator dashboard: server-rendered pages and the read-only operator API behind them.

* Pages (``pages.py``, templates in ``templates/dashboard/``): ``/dashboard`` (a reporting year's intake, every
  municipality), ``/dashboard/statistics`` (charts with their tables), ``/dashboard/submissions/{id}`` (one
  submission in full) and ``/dashboard/submissions/{id}/findings`` (its findings, record by record). Sign-in
  at ``/dashboard/sign-in`` with an operator's or an auditor's bearer token (``services/kit/web.py``).
* API (``operator_api.py``): ``/v1/operator/...``, the same documents as JSON, in the OpenAPI schema.

Both render from ``services/registry_intake/overview.py``. Operators see everything; an auditor sees counts,
receipts and the audit trail, never findings detail (withheld on the pages, 403 in the API).

:func:`install` wires it into the registry's app; ``app.state.clock`` gives "now" for the deadline arithmetic
(tests replace it; ``IPLOS_REGISTRY_DASHBOARD_NOW`` fixes it for a running service).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.registry_intake.config import RegistrySettings
from services.registry_intake.dashboard import operator_api, pages

__all__ = ["STATIC_PATH", "install"]

STATIC_PATH: Final = "/static/dashboard"
_STATIC_DIR: Final = Path(__file__).parent / "static"


def install(app: FastAPI, settings: RegistrySettings) -> None:
    """Add the operator API, the pages, sign-in and their static files to the registry's ``app``."""
    fixed = settings.dashboard_now
    if fixed is not None and fixed.tzinfo is None:
        fixed = fixed.replace(tzinfo=dt.UTC)
    app.state.clock = (lambda: fixed) if fixed is not None else (lambda: dt.datetime.now(dt.UTC))
    app.include_router(operator_api.router)
    app.include_router(pages.UI.router())
    app.include_router(pages.router)
    pages.UI.install(app)
    app.mount(STATIC_PATH, StaticFiles(directory=_STATIC_DIR), name="dashboard-static")
