"""The registry's operator dashboard: server-rendered pages.

``pages.py`` (templates in ``templates/dashboard/``): ``/dashboard`` (a reporting year's intake, every
municipality), ``/dashboard/statistics`` (charts with their tables), ``/dashboard/submissions/{id}`` (one
submission in full) and ``/dashboard/submissions/{id}/findings`` (its findings, record by record). Sign-in at
``/dashboard/sign-in`` with an operator's or an auditor's bearer token (``services/kit/web.py``).

The pages call the same use cases as the operator API (``routes/operator.py``, ``/v1/operator/...``) and render
the documents they return. Operators see everything; an auditor sees counts, receipts and the audit trail,
never findings detail (withheld on the pages, 403 in the API).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.registry_intake.dashboard import pages

__all__ = ["STATIC_PATH", "install"]

STATIC_PATH: Final = "/static/dashboard"
_STATIC_DIR: Final = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, sign-in and their static files to the registry's ``app``."""
    app.include_router(pages.UI.router())
    app.include_router(pages.router)
    pages.UI.install(app)
    app.mount(STATIC_PATH, StaticFiles(directory=_STATIC_DIR), name="dashboard-static")
