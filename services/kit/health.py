"""Liveness, the same for every service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up and serving requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
