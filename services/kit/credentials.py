"""Bearer credentials for people (operators, auditors, municipalities), kept as SHA-256 hashes in a JSON file.

A token is 256 random bits, so a plain SHA-256 of it is as good as a slow password hash and lets the service
compare in constant time without ever storing the token. File format ``iplos-credentials/1``::

    {"format": "iplos-credentials/1",
     "credentials": [{"name": "dev-operator", "role": "operator", "token_sha256": "<hex>"},
                     {"name": "oslo", "role": "municipality", "municipality": "0301", "token_sha256": "<hex>"}]}

``municipality`` is optional in the format (files written before it existed load unchanged), but a credential
with role ``municipality`` must carry one, and no other role may: a credential bound to one kommuneNr acts
for that municipality only, and one that is not bound acts for every municipality the service serves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from services.kit.problems import Problem, ProblemType

FORMAT = "iplos-credentials/1"
TOKEN_PREFIX = "iplos_"  # noqa: S105 - a prefix that makes a leaked token easy to spot, not a secret
MUNICIPALITY_ROLE = "municipality"
_KOMMUNE_NR = re.compile(r"^[0-9]{4}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Credential:
    name: str
    role: str
    token_sha256: str
    municipality: str | None = None
    """The kommuneNr a ``municipality`` credential is bound to; None for every other role."""

    def __post_init__(self) -> None:
        # Checked when a file is loaded, so a mistyped entry stops the service at start-up instead of
        # silently granting (or refusing) access to the wrong municipality.
        if not _SHA256_HEX.fullmatch(self.token_sha256):
            raise ValueError(f"credential {self.name!r}: token_sha256 is not a lower-case hex SHA-256")
        if self.role == MUNICIPALITY_ROLE:
            if self.municipality is None or not _KOMMUNE_NR.fullmatch(self.municipality):
                raise ValueError(f"credential {self.name!r}: role municipality needs a four-digit municipality")
        elif self.municipality is not None:
            raise ValueError(f"credential {self.name!r}: only role municipality may be bound to a municipality")

    def acts_for(self, municipality: str) -> bool:
        """Whether this credential may act for ``municipality``: a bound one for its own only."""
        return self.municipality is None or self.municipality == municipality


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _entry(credential: Credential) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": credential.name, "role": credential.role}
    if credential.municipality is not None:
        entry["municipality"] = credential.municipality
    entry["token_sha256"] = credential.token_sha256
    return entry


def write_credentials(path: Path, credentials: list[Credential]) -> None:
    """Write the file whole or not at all (temporary file, then rename): a service starting while it is
    rewritten reads the old list or the new one, never half of one."""
    document = {"format": FORMAT, "credentials": [_entry(c) for c in credentials]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_credentials(path: Path | None) -> list[Credential]:
    """No file: no credentials, so every protected endpoint refuses (nothing is readable by default)."""
    if path is None:
        return []
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not an {FORMAT} document")
    return [Credential(c["name"], c["role"], c["token_sha256"], c.get("municipality")) for c in document["credentials"]]


def read_token_file(path: Path) -> str:
    """A bearer token kept in a file of its own (one line; surrounding white space ignored)."""
    token = path.read_text(encoding="ascii").strip()
    if not token or any(c.isspace() for c in token):
        raise ValueError(f"{path} does not hold one bearer token")
    return token


def authenticate(request: Request, credentials: list[Credential], roles: frozenset[str]) -> Credential:
    """The caller's credential if its bearer token is known and its role allowed; 401/403 problems otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(ProblemType.UNAUTHENTICATED)
    digest = hash_token(token.strip())
    found = None
    for credential in credentials:  # every entry compared, in constant time each: no early exit to time
        if hmac.compare_digest(credential.token_sha256, digest):
            found = credential
    if found is None:
        raise Problem(ProblemType.UNAUTHENTICATED, "The bearer token is not known to this service")
    if found.role not in roles:
        raise Problem(ProblemType.FORBIDDEN)
    return found


# Who may read a service's audit log: operators and auditors. Not a municipality: entries name every
# municipality's messages.
AUDIT_READERS = frozenset({"operator", "auditor"})
# The role of a municipality gateway's own credential at the registry: it fetches the control reports the
# registry sealed for the municipalities it serves, and nothing else. Not bound to a municipality (a gateway
# may serve several); a report is sealed for its municipality's key whoever fetches it.
GATEWAY_ROLE = "gateway"
REPORT_FETCHERS = frozenset({GATEWAY_ROLE})
# Who sees findings detail (the logical controls' findings by rule or by record), on every surface: the
# registry's pages and operator API, and /metrics. Operators only; an auditor reads counts and the audit trail.
FINDINGS_READERS = frozenset({"operator"})
