"""Structured JSON logs (structlog), one line per event, to stderr and to the service's log file.

Log events carry ids, counts, digests and problem types: never an identity number, a pseudonym or payload
content. Code that logs passes only such fields; the end-to-end tests search every log line for the run's
identity numbers and payload strings.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.asgi import call_observed


def prepare_state_dir(state_dir: Path) -> None:
    """Everything the service writes goes under its state folder, readable by the service's user only.

    The umask makes every file the process creates (databases, logs, spooled uploads) private, and temporary
    files (multipart uploads spooled by the web framework) go to ``state_dir/tmp`` instead of the system's
    shared temporary folder, so an audit of what the service wrote finds all of it in one place.
    """
    os.umask(0o077)
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    tmp = state_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    tempfile.tempdir = str(tmp)


def configure_logging(service: str, log_file: Path | None, level: str = "INFO") -> None:
    def add_service(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
        event.setdefault("service", service)
        return event

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[
            add_service,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[
            add_service,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class AccessLogMiddleware:
    """One JSON line per request: method, route template, status, milliseconds.

    Replaces the server's own access log, which prints the raw path: a path can hold anything a caller put in
    it (an identity number sent as a submission id), and logs must never carry one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def logged(status: int, seconds: float) -> None:
            route = getattr(scope.get("route"), "path", None)
            self.log.info(
                "request",
                method=scope.get("method"),
                route=route if isinstance(route, str) else "(no matching route)",
                status=status,
                ms=round(seconds * 1000, 1),
            )

        await call_observed(self.app, scope, receive, send, logged)
