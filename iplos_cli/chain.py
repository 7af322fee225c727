"""Run the three services as separate uvicorn processes on loopback, each with its own state folder.

Layout under the state folder::

    keys/                     iplos keys init output (directory.json, tpf/, registry/, municipalities/)
    credentials/              development bearer tokens (mode 0600) and the services' hashed credential files:
                              operator-token, municipality-NNNN-token, gateway-registry-token (the gateway's
                              own credential at the registry, for fetching reports), registry.json, gateway.json
    gateway/ tpf/ registry/   each service's database, logs, outbox and temporary files

Each process is given only its own key folder and the public directory (key custody), and its TMPDIR points
into its own state folder, so everything a service writes is under ``<state>/<service>/``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
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

SERVICES = ("registry", "tpf", "gateway")  # start order: a service starts after the one it delivers to
DEFAULT_PORTS = {"gateway": 8001, "tpf": 8002, "registry": 8003}
APPS = {
    "gateway": "services.municipality_gateway.api:create_app",
    "tpf": "services.tpf.app:create_app",
    "registry": "services.registry_intake.api:create_app",
}
CREDENTIALS_FOLDER = "credentials"
_KOMMUNE_FOLDER = re.compile(r"^kommune-([0-9]{4})$")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_keys(state_dir: Path, municipalities: list[str]) -> Path:
    key_dir = state_dir / "keys"
    if not (key_dir / DIRECTORY_FILE).exists():
        init_keys(key_dir, municipalities)
    return key_dir


def ensure_operator_token(state_dir: Path) -> str:
    """A development operator credential: the token in ``credentials/operator-token`` (0600), its hash in the
    registry's credentials file. Created once per state folder."""
    folder = state_dir / CREDENTIALS_FOLDER
    token_file = folder / "operator-token"
    if not token_file.exists():
        write_private_file(token_file, new_token().encode("ascii"))
    token = token_file.read_text(encoding="ascii").strip()
    # The registry's read endpoints and the TPF's audit log take the same operator credential. A state folder
    # from before the TPF had one gets its file now.
    for service in ("registry", "tpf"):
        path = folder / f"{service}.json"
        if not path.exists():
            write_credentials(path, [Credential("dev-operator", "operator", hash_token(token))])
    return token


def gateway_registry_token_file(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FOLDER / "gateway-registry-token"


def ensure_gateway_registry_token(state_dir: Path) -> str:
    """The gateway's own credential at the registry (role ``gateway``: it fetches the sealed control reports):
    the token in ``credentials/gateway-registry-token`` (0600), created once per state folder, handed to the
    gateway as ``IPLOS_GATEWAY_REGISTRY_TOKEN_FILE``; its hash as ``dev-gateway`` in the registry's credentials
    file. Every other entry of that file is kept, and it is rewritten only when it would change."""
    ensure_operator_token(state_dir)  # registry.json with the operator's credential
    token_file = gateway_registry_token_file(state_dir)
    if not token_file.exists():
        write_private_file(token_file, new_token().encode("ascii"))
    token = token_file.read_text(encoding="ascii").strip()
    path = state_dir / CREDENTIALS_FOLDER / "registry.json"
    existing = load_credentials(path)
    wanted = Credential("dev-gateway", GATEWAY_ROLE, hash_token(token))
    updated = [c for c in existing if c.name != wanted.name] + [wanted]
    if updated != existing:
        write_credentials(path, updated)
    return token


def served_municipalities(state_dir: Path) -> list[str]:
    """The municipalities the development gateway serves: its ``kommune-NNNN`` key folders (as the gateway
    itself finds them)."""
    folder = state_dir / "keys" / MUNICIPALITIES_FOLDER
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
    tokens: dict[str, str] = {}
    for kommune_nr in served_municipalities(state_dir):
        token_file = municipality_token_file(state_dir, kommune_nr)
        if not token_file.exists():
            write_private_file(token_file, new_token().encode("ascii"))
        tokens[kommune_nr] = token_file.read_text(encoding="ascii").strip()
    credentials = [Credential("dev-operator", "operator", hash_token(operator))] + [
        Credential(f"dev-municipality-{nr}", MUNICIPALITY_ROLE, hash_token(token), municipality=nr)
        for nr, token in tokens.items()
    ]
    path = state_dir / CREDENTIALS_FOLDER / "gateway.json"
    # Rewritten only when it would change: Chain.start runs this at every (re)start of any service, while
    # the gateway may be running.
    if not path.exists() or load_credentials(path) != credentials:
        write_credentials(path, credentials)
    return tokens


def service_env(service: str, state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    keys = state_dir / "keys"
    own = state_dir / service
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    prefix = {"gateway": "IPLOS_GATEWAY_", "tpf": "IPLOS_TPF_", "registry": "IPLOS_REGISTRY_"}[service]
    key_dir = {"gateway": keys / MUNICIPALITIES_FOLDER, "tpf": keys / "tpf", "registry": keys / "registry"}[service]
    env = {
        prefix + "KEY_DIR": str(key_dir),
        prefix + "DIRECTORY": str(keys / DIRECTORY_FILE),
        prefix + "STATE_DIR": str(own),
        "TMPDIR": str(own / "tmp"),
    }
    if service == "gateway":
        env["IPLOS_GATEWAY_TPF_URL"] = url["tpf"]
        env["IPLOS_GATEWAY_REGISTRY_URL"] = url["registry"]
        env["IPLOS_GATEWAY_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "gateway.json")
        env["IPLOS_GATEWAY_REGISTRY_TOKEN_FILE"] = str(gateway_registry_token_file(state_dir))
    if service == "registry":
        env["IPLOS_REGISTRY_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "registry.json")
    if service == "tpf":
        env["IPLOS_TPF_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "tpf.json")
        env["IPLOS_TPF_REGISTRY_URL"] = url["registry"]
        # A development chain runs on synthetic test numbers only (a production TPF refuses them).
        env["IPLOS_TPF_ACCEPT_SYNTHETIC_NUMBERS"] = "true"
    return env


@dataclass
class Chain:
    """The three services as child processes. Use as a context manager; ``stop()`` ends them."""

    state_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def operator_token(self) -> str:
        return ensure_operator_token(self.state_dir)

    @property
    def gateway_registry_token(self) -> str:
        """The gateway's own credential at the registry (it fetches the sealed reports with it)."""
        return ensure_gateway_registry_token(self.state_dir)

    def municipality_tokens(self) -> dict[str, str]:
        """Each served municipality's development token, by kommuneNr."""
        return ensure_gateway_credentials(self.state_dir)

    def municipality_token(self, kommune_nr: str) -> str:
        """The development token bound to ``kommune_nr`` at the gateway (it submits and reads only its own)."""
        tokens = self.municipality_tokens()
        if kommune_nr not in tokens:
            raise KeyError(f"the development gateway does not serve municipality {kommune_nr}")
        return tokens[kommune_nr]

    def start(self, service: str) -> None:
        ensure_gateway_credentials(self.state_dir)  # the registry's operator credential as well
        ensure_gateway_registry_token(self.state_dir)
        own = self.state_dir / service
        (own / "tmp").mkdir(parents=True, exist_ok=True)
        (own / "logs").mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **service_env(service, self.state_dir, self.ports),
            **self.extra_env.get(service, {}),
        }
        log = open(own / "logs" / "process.log", "ab")  # noqa: SIM115 - owned by the child process
        self.processes[service] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                APPS[service],
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[service]),
                "--no-server-header",
                # The services log each request themselves, by route template; the server's access log
                # would print raw paths, which can hold anything a caller put there.
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_healthy(service)

    def wait_healthy(self, service: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with code {process.returncode}; "
                    f"see {self.state_dir / service / 'logs' / 'process.log'}"
                )
            try:
                # Ready, not only alive: its database answers and its keys match the directory.
                if httpx.get(self.url(service) + "/readyz", timeout=3.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{service} did not become ready within {timeout_s:.0f} s (GET /readyz names the check)")

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)

    def stop(self, service: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(service, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for service in reversed(SERVICES):
            self.stop(service)

    def __enter__(self) -> Chain:
        try:
            self.start_all()
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
