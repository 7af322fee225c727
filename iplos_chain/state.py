"""A development chain's state folder: its keys and the development credentials, each created once.

Layout under the state folder::

    keys/                     iplos keys init output (directory.json, ca/, tpf/, registry/, municipalities/)
    credentials/              development bearer tokens (mode 0600) and the services' hashed credential files:
                              operator-token, auditor-token, municipality-NNNN-token, gateway-registry-token
                              (the gateway's own credential at the registry, for fetching reports),
                              registry.json, gateway.json, tpf.json
    gateway/ tpf/ registry/   each service's database, logs, outbox and temporary files
    register-gateway/         the population register's gateway's (with ``iplos up``; its token: register-token,
                              its credential file: register-gateway.json)

Every function here may run again on an existing folder (``iplos up`` on the state of an earlier run): what is
there is kept, and a folder from an older version gets what it lacks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, add_tls, init_keys
from services.kit.credentials import (
    GATEWAY_ROLE,
    MUNICIPALITY_ROLE,
    Credential,
    hash_token,
    load_credentials,
    new_token,
    write_credentials,
)
from shared.keys import write_private_file

__all__ = [
    "CREDENTIALS_FOLDER",
    "KEYS_FOLDER",
    "auditor_token_file",
    "ensure_auditor_token",
    "ensure_gateway_credentials",
    "ensure_gateway_registry_token",
    "ensure_keys",
    "ensure_operator_token",
    "ensure_register_token",
    "gateway_registry_token_file",
    "municipality_token_file",
    "operator_token_file",
    "register_credentials_file",
    "register_token_file",
    "served_municipalities",
]

KEYS_FOLDER: Final = "keys"
CREDENTIALS_FOLDER: Final = "credentials"
_KOMMUNE_FOLDER: Final = re.compile(r"^kommune-([0-9]{4})$")


def ensure_keys(state_dir: Path, municipalities: list[str]) -> Path:
    """``state_dir/keys`` with key pairs and TLS certificates for every party (``iplos keys init``), unless it
    holds them already; a folder from before mutual TLS gets its CA and certificates."""
    key_dir = state_dir / KEYS_FOLDER
    if not (key_dir / DIRECTORY_FILE).exists():
        init_keys(key_dir, municipalities)
    else:
        add_tls(key_dir)
    return key_dir


def _token(token_file: Path) -> str:
    """The token in ``token_file`` (mode 0600), made the first time it is asked for."""
    if not token_file.exists():
        write_private_file(token_file, new_token().encode("ascii"))
    return token_file.read_text(encoding="ascii").strip()


def operator_token_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "operator-token"


def ensure_operator_token(state_dir: Path) -> str:
    """A development operator credential: the token in ``credentials/operator-token`` (0600), its hash in the
    registry's credentials file. Created once per state folder."""
    folder = state_dir / CREDENTIALS_FOLDER
    token = _token(operator_token_file(state_dir))
    # The registry's read endpoints and the TPF's audit log take the same operator credential. A state folder
    # from before the TPF had one gets its file now.
    for service in ("registry", "tpf"):
        path = folder / f"{service}.json"
        if not path.exists():
            write_credentials(path, [Credential("dev-operator", "operator", hash_token(token))])
    return token


def auditor_token_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "auditor-token"


def ensure_auditor_token(state_dir: Path) -> str:
    """A development auditor credential (role ``auditor``: every service's audit log and the registry's operator
    views without findings detail, nothing it could change): the token in ``credentials/auditor-token`` (0600),
    its hash as ``dev-auditor`` in the registry's and the TPF's credential files (the gateway's is derived in
    :func:`ensure_gateway_credentials`). Created once per state folder; other entries are kept."""
    ensure_operator_token(state_dir)
    token = _token(auditor_token_file(state_dir))
    for service in ("registry", "tpf"):
        _keep_entry(
            state_dir / CREDENTIALS_FOLDER / f"{service}.json", Credential("dev-auditor", "auditor", hash_token(token))
        )
    return token


def _keep_entry(path: Path, wanted: Credential) -> None:
    """``wanted`` in the credential file at ``path``, every other entry kept; rewritten only when it changes (a
    running service may be reading it)."""
    existing = load_credentials(path)
    updated = [c for c in existing if c.name != wanted.name] + [wanted]
    if updated != existing:
        write_credentials(path, updated)


def gateway_registry_token_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "gateway-registry-token"


def ensure_gateway_registry_token(state_dir: Path) -> str:
    """The gateway's own credential at the registry (role ``gateway``: it fetches the sealed control reports):
    the token in ``credentials/gateway-registry-token`` (0600), created once per state folder, handed to the
    gateway as ``IPLOS_GATEWAY_REGISTRY_TOKEN_FILE``; its hash as ``dev-gateway`` in the registry's credentials
    file. Every other entry of that file is kept, and it is rewritten only when it would change."""
    ensure_operator_token(state_dir)  # registry.json with the operator's credential
    token = _token(gateway_registry_token_file(state_dir))
    _keep_entry(
        state_dir / CREDENTIALS_FOLDER / "registry.json", Credential("dev-gateway", GATEWAY_ROLE, hash_token(token))
    )
    return token


def served_municipalities(state_dir: Path) -> list[str]:
    """The municipalities the development gateway serves: its ``kommune-NNNN`` key folders (as the gateway
    itself finds them)."""
    folder = state_dir / KEYS_FOLDER / MUNICIPALITIES_FOLDER
    if not folder.is_dir():
        return []
    return sorted(m.group(1) for f in folder.iterdir() if f.is_dir() and (m := _KOMMUNE_FOLDER.match(f.name)))


def municipality_token_file(state_dir: Path, kommune_nr: str) -> Path:
    return state_dir / CREDENTIALS_FOLDER / f"municipality-{kommune_nr}-token"


def ensure_gateway_credentials(state_dir: Path) -> dict[str, str]:
    """Development credentials for the gateway: the operator's token (the registry's operator too) and one
    token per served municipality, each in its own 0600 file, created once per state folder; their hashes in
    ``credentials/gateway.json``. Returns the municipality tokens by kommuneNr.

    The file is derived from the token files every time, so a state folder made before the gateway had
    credentials (operator token and registry.json only) gets them at its next start, and a second call
    changes nothing."""
    operator = ensure_operator_token(state_dir)
    auditor = ensure_auditor_token(state_dir)
    tokens = {nr: _token(municipality_token_file(state_dir, nr)) for nr in served_municipalities(state_dir)}
    credentials = [
        Credential("dev-operator", "operator", hash_token(operator)),
        Credential("dev-auditor", "auditor", hash_token(auditor)),
    ] + [
        Credential(f"dev-municipality-{nr}", MUNICIPALITY_ROLE, hash_token(token), municipality=nr)
        for nr, token in tokens.items()
    ]
    path = state_dir / CREDENTIALS_FOLDER / "gateway.json"
    # Rewritten only when it would change: Chain.start runs this at every (re)start of any service, while
    # the gateway may be running.
    if not path.exists() or load_credentials(path) != credentials:
        write_credentials(path, credentials)
    return tokens


def register_token_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "register-token"


def ensure_register_token(state_dir: Path) -> str:
    """The population register's IT staff's token at the register's own gateway (``credentials/register-token``,
    0600, created once; its hash in the gateway's credential file ``register-gateway.json``): it sends the
    register's extracts, for every municipality."""
    token = _token(register_token_file(state_dir))
    path = register_credentials_file(state_dir)
    wanted = [Credential("folkeregister-it", "operator", hash_token(token))]
    if not path.exists() or load_credentials(path) != wanted:
        write_credentials(path, wanted)
    return token


def register_credentials_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "register-gateway.json"
