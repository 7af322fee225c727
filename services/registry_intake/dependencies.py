"""What a request of the registry needs before its route runs: the use cases' context, the clock, who calls.

Who may read what: operators and auditors read submissions, the pages and the operator API (a bearer token, or
for the pages and the operator API the pages' sign-in cookie); operators alone see findings detail (by rule,
by record); a municipality gateway's own credential fetches control reports and nothing else. What another
service sends or fetches also needs the right TLS peer (services.kit.tls): the TPF's for deliveries, the
municipality's for its confirmation and report.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

from fastapi import Depends, Request

from services.kit.credentials import AUDIT_READERS, REPORT_FETCHERS, Credential, authenticate
from services.kit.credentials import FINDINGS_READERS as _FINDINGS_READERS
from services.kit.problems import Problem, ProblemType
from services.kit.tls import Peer, peer_with_role
from services.kit.web import bearer_or_cookie, sessions_of
from services.registry_intake.service import RegistryContext

__all__ = [
    "COOKIE",
    "FINDINGS_READERS",
    "READERS",
    "Caller",
    "Clock",
    "Context",
    "MunicipalityPeer",
    "ReportFetcher",
    "TpfPeer",
    "api_caller",
    "context",
    "credentials",
    "now",
    "report_fetcher",
    "require_findings",
    "require_operator",
    "sees_findings",
]

#: Everyone the pages and the operator API admit: operators and auditors (as the audit log's readers).
READERS: Final = AUDIT_READERS
#: The registry's sign-in session cookie (its own name: the gateway's pages may run on the same host); over https
#: its name has the ``__Host-`` prefix (services.kit.web.cookie_name).
COOKIE: Final = "iplos_registry_session"
#: Who sees findings detail (by rule, by record): operators only. An auditor sees counts and the audit trail.
#: The same set decides what ``/metrics`` shows (services.kit.metrics): the roles mean the same everywhere.
FINDINGS_READERS: Final = _FINDINGS_READERS


def context(request: Request) -> RegistryContext:
    """The use cases' context, built when the app started."""
    ctx: RegistryContext = request.app.state.registry
    return ctx


def credentials(request: Request) -> list[Credential]:
    found: list[Credential] = request.app.state.credentials
    return found


def now(request: Request) -> dt.datetime:
    """The app's clock (``app.state.clock``): the real one, or a fixed instant for tests and demonstrations."""
    moment: dt.datetime = request.app.state.clock()
    return moment


def require_operator(request: Request) -> None:
    """An operator's or auditor's bearer token; 401/403 problems otherwise. Called in the route's body, after
    the query is validated (a malformed query is answered 422 before the credential is looked at)."""
    authenticate(request, credentials(request), AUDIT_READERS)


def report_fetcher(request: Request) -> Credential:
    """A municipality gateway's own credential: checked before the submission id is looked at, so a caller
    without it learns nothing about the id."""
    return authenticate(request, credentials(request), REPORT_FETCHERS)


def api_caller(request: Request) -> Credential:
    """The operator API's caller: a bearer token or the pages' live sign-in session; 401/403 problems otherwise.
    (The operator API only reads: no form token is asked for.)"""
    return bearer_or_cookie(request, credentials(request), READERS, sessions=sessions_of(request), cookie=COOKIE)


def sees_findings(caller: Credential) -> bool:
    return caller.role in FINDINGS_READERS


def require_findings(caller: Credential) -> None:
    if not sees_findings(caller):
        raise Problem(
            ProblemType.FORBIDDEN,
            "Findings detail is for operators; an auditor's credential reads counts and the audit trail",
        )


Context = Annotated[RegistryContext, Depends(context)]
Clock = Annotated[dt.datetime, Depends(now)]
Caller = Annotated[Credential, Depends(api_caller)]
ReportFetcher = Annotated[Credential, Depends(report_fetcher)]
#: The connection's TLS peer (services.kit.tls), of the role an endpoint takes from (403 ``wrong-peer`` before
#: the body is read otherwise); the use case checks the very party once it knows whose the message is.
TpfPeer = Annotated[Peer, Depends(peer_with_role("tpf"))]
MunicipalityPeer = Annotated[Peer, Depends(peer_with_role("municipality"))]
