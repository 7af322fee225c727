"""Run the three services as separate uvicorn processes on loopback, each with its own state folder.

Each process is given only its own key folder and the public directory (key custody), and its TMPDIR points
into its own state folder, so everything a service writes is under ``<state>/<service>/`` (the layout:
:mod:`iplos_chain.state`). Each is started as ``iplos serve`` starts one (:func:`launch_command`), with mutual TLS:
every URL is ``https://``, and a caller trusts the chain's development CA (:attr:`Chain.verify`).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from iplos_chain.apps import DEFAULT_PORTS, SERVICES
from iplos_chain.state import (
    CREDENTIALS_FOLDER,
    KEYS_FOLDER,
    ensure_gateway_credentials,
    ensure_gateway_registry_token,
    ensure_operator_token,
    gateway_registry_token_file,
)
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER
from services.kit.tls import client_context
from shared.keys import PublicDirectory

__all__ = ["Chain", "free_port", "launch_command", "service_env", "trust"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(service: str, state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The environment variables that configure ``service`` in a development chain under ``state_dir``."""
    keys = state_dir / KEYS_FOLDER
    own = state_dir / service
    url = {name: f"https://127.0.0.1:{port}" for name, port in ports.items()}
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


def launch_command(service: str, port: int) -> list[str]:
    """The command that runs ``service`` on loopback: ``iplos serve`` (iplos_chain.serve), in this interpreter."""
    return [sys.executable, "-m", "iplos_cli.main", "serve", service, "--host", "127.0.0.1", "--port", str(port)]


def trust(state_dir: Path, as_municipality: str | None = None) -> ssl.SSLContext:
    """A client's TLS context for the chain under ``state_dir``: its directory's CA, and the host name checked;
    with ``as_municipality`` (a kommuneNr), presenting that municipality's client certificate, as its gateway
    does (the TPF tells of a message only to the municipality whose message it is)."""
    ca = PublicDirectory.load(state_dir / KEYS_FOLDER / DIRECTORY_FILE).tls_ca
    if as_municipality is None:
        return client_context(ca)
    tls = state_dir / KEYS_FOLDER / MUNICIPALITIES_FOLDER / f"kommune-{as_municipality}" / "tls"
    return client_context(ca, tls / "cert.pem", tls / "key.pem")


@dataclass
class Chain:
    """The three services as child processes. Use as a context manager; ``stop()`` ends them."""

    state_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"https://127.0.0.1:{self.ports[service]}"

    @functools.cached_property
    def verify(self) -> ssl.SSLContext:
        """What an HTTP client of this chain verifies its services with (httpx's ``verify=``): its CA."""
        return trust(self.state_dir)

    @property
    def ca_file(self) -> Path:
        """The development CA's certificate (``curl --cacert``, ``SSL_CERT_FILE``)."""
        return self.state_dir / KEYS_FOLDER / "ca" / "ca.pem"

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
            launch_command(service, self.ports[service]),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_healthy(service)

    def wait_healthy(self, service: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        verify = self.verify
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with code {process.returncode}; "
                    f"see {self.state_dir / service / 'logs' / 'process.log'}"
                )
            try:
                # Ready, not only alive: its database answers and its keys match the directory.
                if httpx.get(self.url(service) + "/readyz", timeout=3.0, verify=verify).status_code == 200:
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
