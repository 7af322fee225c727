"""Who may read what on the operator pages and API, and the request's context (database, clock)."""

from __future__ import annotations

import datetime as dt
from typing import Final

from fastapi import Request

from services.kit.credentials import AUDIT_READERS, Credential
from services.kit.credentials import FINDINGS_READERS as _FINDINGS_READERS
from services.kit.problems import Problem
from services.kit.web import bearer_or_cookie
from services.registry_intake.service import RegistryContext

__all__ = [
    "COOKIE",
    "FINDINGS_READERS",
    "READERS",
    "api_caller",
    "context",
    "credentials",
    "now",
    "require_findings",
    "sees_findings",
]

#: Everyone the pages and the operator API admit: operators and auditors (as the audit log's readers).
READERS: Final = AUDIT_READERS
#: The registry's sign-in cookie (its own name: the gateway's pages may run on the same host).
COOKIE: Final = "iplos_registry_token"
#: Who sees findings detail (by rule, by record): operators only. An auditor sees counts and the audit trail.
#: The same set decides what ``/metrics`` shows (services.kit.metrics): the roles mean the same everywhere.
FINDINGS_READERS: Final = _FINDINGS_READERS


def credentials(request: Request) -> list[Credential]:
    found: list[Credential] = request.app.state.credentials
    return found


def context(request: Request) -> RegistryContext:
    ctx: RegistryContext = request.app.state.registry
    return ctx


def now(request: Request) -> dt.datetime:
    """The app's clock (``app.state.clock``): the real one, or a fixed instant for tests and demonstrations."""
    moment: dt.datetime = request.app.state.clock()
    return moment


def api_caller(request: Request) -> Credential:
    """The operator API's caller: a bearer token or the pages' sign-in cookie; 401/403 problems otherwise."""
    return bearer_or_cookie(request, credentials(request), READERS, cookie=COOKIE)


def sees_findings(caller: Credential) -> bool:
    return caller.role in FINDINGS_READERS


def require_findings(caller: Credential) -> None:
    if not sees_findings(caller):
        raise Problem(
            "forbidden",
            403,
            "Findings detail is for operators; an auditor's credential reads counts and the audit trail",
        )
