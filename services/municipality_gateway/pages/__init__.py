"""The gateway's pages for municipal IT staff: their submissions, each one's way through the chain, the
registry's receipt and the control report with brukerNr (services/kit/web.py: sign-in with the same token
the API takes; a municipality's token sees its own municipality only, the operator's every one)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.municipality_gateway.pages.routes import STATIC_PATH, UI, router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    app.include_router(UI.router())
    app.include_router(router)
    UI.install(app)
    app.mount(STATIC_PATH, StaticFiles(directory=Path(__file__).parent / "static"), name="gateway-static")
