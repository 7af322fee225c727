"""The services' uvicorn HTTP protocol: the peer's certificate in the scope (services.kit.tls), and a deadline for
a request's headers.

uvicorn (0.55, h11) has a keep-alive timeout after an answer, but none for the headers of a request: a
connection that opens and sends nothing, or sends a header line now and then, is held for ever (issue 17 saw
3,000 of them holding 3,024 file descriptors of the TPF). Here a timer runs from the connection's opening, and
again from the first byte after each answer, until a request's headers are complete; when it fires first, the
connection gets a 408 and is closed. Once the headers are in, the body's pace is the app's to judge
(services.kit.guards._pace), and uvicorn's own keep-alive timeout applies between requests.

uvicorn takes the protocol as a class or a callable; :class:`GuardedProtocolFactory` is a plain picklable value
(as the TLS context factory is), so that each worker process uvicorn spawns builds the same protocol.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Final

from services.kit.guards._limits import TrafficLimits
from services.kit.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemType
from services.kit.tls import PeerCertProtocol

__all__ = ["HEADER_TIMEOUT_ANSWER", "GuardedProtocol", "GuardedProtocolFactory"]


def _header_timeout_answer() -> bytes:
    # Written as bytes, outside h11: no request has begun as far as h11 knows, so it has no answer to make, and
    # the connection is closed right after.
    body = json.dumps(
        Problem(ProblemType.REQUEST_TIMEOUT, "The request's headers did not arrive in time").document(),
        separators=(",", ":"),
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


HEADER_TIMEOUT_ANSWER: Final = _header_timeout_answer()


class GuardedProtocol(PeerCertProtocol):
    def __init__(self, *args: Any, header_timeout_s: float = TrafficLimits.header_timeout_s, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers() and self._header_timer is None:
            self._arm_header_timer()
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are complete
            self._disarm_header_timer()

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers() or self.transport.is_closing():
            return
        self.transport.write(HEADER_TIMEOUT_ANSWER)
        self.transport.close()


@dataclass(frozen=True)
class GuardedProtocolFactory:
    """uvicorn's ``http`` option: makes a :class:`GuardedProtocol` with ``header_timeout_s``."""

    header_timeout_s: float

    def __call__(self, *args: Any, **kwargs: Any) -> GuardedProtocol:
        return GuardedProtocol(*args, header_timeout_s=self.header_timeout_s, **kwargs)
