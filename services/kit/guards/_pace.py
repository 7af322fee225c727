"""A request body must keep coming: 408 ``request-timeout`` for one that stalls or trickles.

A caller that sends its headers and then a body a byte at a time would otherwise hold a connection, a file
descriptor and (for an upload) a spool file for as long as it likes. Two rules, the ones nginx
(``client_body_timeout``) and Apache (``mod_reqtimeout``'s ``MinRate``) apply:

* no wait for the next part of the body longer than ``body_idle_timeout_s``;
* once the body has been arriving for that long, its mean rate at least ``body_min_rate_bytes_s`` (a gigabyte at
  1 KiB/s would take twelve days; a municipality's slowest line does better by orders of magnitude).

The timeout is raised inside the app's ``receive``, where the endpoint is reading the body, and answered by the
problem handlers with ``Connection: close``: the server then drops the connection and whatever the caller still
meant to send.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyPaceMiddleware", "BodyTooSlow"]


class BodyTooSlow(Exception):
    """The body stalled or trickled (no request content in it: the type alone is logged)."""


class BodyPaceMiddleware:
    def __init__(self, app: ASGIApp, idle_timeout_s: float, min_rate_bytes_s: float) -> None:
        self.app = app
        self.idle_timeout_s = idle_timeout_s
        self.min_rate_bytes_s = min_rate_bytes_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started: float | None = None
        received = 0
        done = False

        async def paced() -> Message:
            nonlocal started, received, done
            if done:
                # The body is in: what the app waits for now is the client going away (a streaming answer
                # listens for it), which may take as long as the answer does.
                return await receive()
            now = time.monotonic()
            if started is None:
                started = now
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout_s)
            except TimeoutError:
                raise BodyTooSlow() from None
            if message["type"] != "http.request" or not message.get("more_body"):
                done = True
                return message
            received += len(message.get("body", b""))
            elapsed = time.monotonic() - started
            if elapsed > self.idle_timeout_s and received < self.min_rate_bytes_s * elapsed:
                raise BodyTooSlow()
            return message

        await self.app(scope, paced, send)
