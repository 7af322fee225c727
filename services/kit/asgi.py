"""Watching a request go through the app: its status and duration, for the access log and the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def call_observed(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, observe: Callable[[int, float], None]
) -> None:
    """Run the request through ``app`` and then call ``observe(status, seconds)``, also when it raised;
    the status is 500 if no answer was started."""
    status = 0

    async def tracking(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    started = time.perf_counter()
    try:
        await app(scope, receive, tracking)
    finally:
        observe(status or 500, time.perf_counter() - started)
