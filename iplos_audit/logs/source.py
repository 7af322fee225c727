"""One service's audit API as the auditor reads it: its base URL and the auditor's credential.

The public-key directory the signatures are checked against comes from the auditor's own copy (the state
folder's ``keys/directory.json``), never from what the services send: it is the auditor's trust anchor.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from iplos_chain import operator_token_file
from services.kit.tls import client_context
from shared.keys import PublicDirectory

__all__ = [
    "PAGE",
    "SERVICES",
    "AuditCredentialRefused",
    "AuditFetchError",
    "AuditUsageError",
    "Source",
    "open_sources",
]

SERVICES: Final = ("gateway", "tpf", "registry")
#: The audit API's page size: a shorter page is the last.
PAGE: Final = 1000


class AuditUsageError(ValueError):
    """The arguments do not lead to the logs: no public-key directory, no credential."""


class AuditFetchError(RuntimeError):
    """A service could not be asked, or did not answer as the audit API says."""


class AuditCredentialRefused(AuditUsageError):
    """A service refused the credential: not an operator's or auditor's (a municipality's, say), or unknown there.
    The arguments are wrong, nothing about the logs is known: no discrepancy is reported for it."""


@dataclass
class Source:
    """One service's audit API: ``client`` has the service's base URL and the auditor's credential."""

    service: str
    client: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        try:
            response = self.client.get(f"/v1/audit{path}", params=params)
        except httpx.HTTPError as exc:
            raise AuditFetchError(f"{self.service}: could not be reached ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            raise AuditCredentialRefused(
                f"{self.service} refused the token (HTTP {response.status_code}): the audit logs need an operator's"
                " or auditor's token, not a municipality's ('iplos up' prints the operator token; --token or"
                " IPLOS_TOKEN)"
            )
        if response.status_code != 200:
            kind = body.get("type", "") if isinstance(body, dict) else ""
            raise AuditFetchError(f"{self.service}: GET /v1/audit{path} answered HTTP {response.status_code} {kind}")
        return body


def open_sources(state_dir: Path, token: str | None, urls: dict[str, str]) -> tuple[dict[str, Source], PublicDirectory]:
    """The services' audit APIs with the auditor's credential (``token``, else the state folder's operator
    token), and the public-key directory from the state folder. Close each source's client when done."""
    directory_file = state_dir / "keys" / "directory.json"
    if not directory_file.exists():
        raise AuditUsageError(f"no public-key directory at {directory_file} (use --state-dir)")
    token_file = operator_token_file(state_dir)
    if token is None and token_file.exists():
        token = token_file.read_text(encoding="ascii").strip()
    if token is None:
        raise AuditUsageError("the audit logs need an operator or auditor token (--token or IPLOS_TOKEN)")
    directory = PublicDirectory.load(directory_file)
    headers = {"Authorization": f"Bearer {token}"}
    sources = {
        service: Source(
            service, httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60, verify=_verify(directory))
        )
        for service, url in urls.items()
    }
    return sources, directory


def _verify(directory: PublicDirectory) -> ssl.SSLContext | bool:
    """The services' certificates are checked against the directory's CA (the system's trust store if it names
    none: a deployment whose services have certificates from a public CA)."""
    return client_context(directory.tls_ca) if directory.tls_ca else True
