"""Bearer credentials for people (operators, auditors), kept as SHA-256 hashes in a JSON file.

A token is 256 random bits, so a plain SHA-256 of it is as good as a slow password hash and lets the service
compare in constant time without ever storing the token. File format ``iplos-credentials/1``::

    {"format": "iplos-credentials/1",
     "credentials": [{"name": "dev-operator", "role": "operator", "token_sha256": "<hex>"}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from services.kit.problems import Problem

FORMAT = "iplos-credentials/1"
TOKEN_PREFIX = "iplos_"  # noqa: S105 - a prefix that makes a leaked token easy to spot, not a secret


@dataclass(frozen=True)
class Credential:
    name: str
    role: str
    token_sha256: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def write_credentials(path: Path, credentials: list[Credential]) -> None:
    document = {
        "format": FORMAT,
        "credentials": [{"name": c.name, "role": c.role, "token_sha256": c.token_sha256} for c in credentials],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_credentials(path: Path | None) -> list[Credential]:
    """No file: no credentials, so every protected endpoint refuses (nothing is readable by default)."""
    if path is None:
        return []
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not an {FORMAT} document")
    return [Credential(c["name"], c["role"], c["token_sha256"]) for c in document["credentials"]]


def authenticate(request: Request, credentials: list[Credential], roles: frozenset[str]) -> Credential:
    """The caller's credential if its bearer token is known and its role allowed; 401/403 problems otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthenticated", 401, "This endpoint needs a bearer token (Authorization: Bearer ...)")
    digest = hash_token(token.strip())
    found = None
    for credential in credentials:  # every entry compared, in constant time each: no early exit to time
        if hmac.compare_digest(credential.token_sha256, digest):
            found = credential
    if found is None:
        raise Problem("unauthenticated", 401, "The bearer token is not known to this service")
    if found.role not in roles:
        raise Problem("forbidden", 403, "This credential's role may not use this endpoint")
    return found
