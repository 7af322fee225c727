"""Run the three services as separate uvicorn processes on loopback, each with its own state folder.

Each process is given only its own key folder and the public directory (key custody), and its TMPDIR points
into its own state folder, so everything a service writes is under ``<state>/<service>/`` (the layout:
:mod:`iplos_chain.state`). Each is started as ``iplos serve`` starts one (:func:`launch_command`), with mutual TLS:
every URL is ``https://``, and a caller trusts the chain's development CA (:attr:`Chain.verify`).

With ``workers`` above 1 each service is uvicorn's process manager and that many worker processes (the manager
starts a worker again when one dies); each service runs in a process group of its own, so that a SIGKILL of the
service (:meth:`Chain.stop`) takes the manager and all its workers, and :meth:`Chain.worker_pids` finds the
workers to kill one alone.
"""

from __future__ import annotations

import contextlib
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

from iplos_chain import procfs
from iplos_chain.apps import DEFAULT_PORTS, PROGRAMS, REGISTER_GATEWAY, SERVICES
from iplos_chain.state import (
    CREDENTIALS_FOLDER,
    KEYS_FOLDER,
    ensure_auditor_token,
    ensure_gateway_credentials,
    ensure_gateway_registry_token,
    ensure_operator_token,
    ensure_register_token,
    gateway_registry_token_file,
    register_credentials_file,
)
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, POPULATION_REGISTER_FOLDER
from services.kit.tls import client_context
from shared.keys import PublicDirectory, ca_certificate_file, tls_files
from shared.keys.municipality import party_name

__all__ = ["GRACEFUL_SHUTDOWN_S", "Chain", "PortTaken", "free_port", "launch_command", "service_env", "trust"]

#: How long a stopped service's requests in flight may take to finish (uvicorn's graceful shutdown).
GRACEFUL_SHUTDOWN_S = 10
#: How long :meth:`Chain.stop` waits for a service to end on its own: its requests, then its outbox's drain.
_STOP_WAIT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(service: str, state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The environment variables that configure ``service`` in a development chain under ``state_dir``. The
    register's gateway is the gateway program with the register's zone's keys, state and credentials."""
    keys = state_dir / KEYS_FOLDER
    own = state_dir / service
    url = {name: f"https://127.0.0.1:{port}" for name, port in ports.items()}
    program = PROGRAMS[service]
    prefix = {"gateway": "IPLOS_GATEWAY_", "tpf": "IPLOS_TPF_", "registry": "IPLOS_REGISTRY_"}[program]
    key_dir = {
        "gateway": keys / MUNICIPALITIES_FOLDER,
        REGISTER_GATEWAY: keys / POPULATION_REGISTER_FOLDER,
        "tpf": keys / "tpf",
        "registry": keys / "registry",
    }[service]
    env = {
        prefix + "KEY_DIR": str(key_dir),
        prefix + "DIRECTORY": str(keys / DIRECTORY_FILE),
        prefix + "STATE_DIR": str(own),
        "TMPDIR": str(own / "tmp"),
    }
    if program == "gateway":
        env["IPLOS_GATEWAY_TPF_URL"] = url["tpf"]
        env["IPLOS_GATEWAY_REGISTRY_URL"] = url["registry"]
        env["IPLOS_GATEWAY_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "gateway.json")
        env["IPLOS_GATEWAY_REGISTRY_TOKEN_FILE"] = str(gateway_registry_token_file(state_dir))
    if service == REGISTER_GATEWAY:  # no report to fetch: the registry answers the register with receipts only
        env["IPLOS_GATEWAY_CREDENTIALS_FILE"] = str(register_credentials_file(state_dir))
    if service == "registry":
        env["IPLOS_REGISTRY_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "registry.json")
    if service == "tpf":
        env["IPLOS_TPF_CREDENTIALS_FILE"] = str(state_dir / CREDENTIALS_FOLDER / "tpf.json")
        env["IPLOS_TPF_REGISTRY_URL"] = url["registry"]
        # A development chain runs on synthetic test numbers only (a production TPF refuses them).
        env["IPLOS_TPF_ACCEPT_SYNTHETIC_NUMBERS"] = "true"
    return env


def launch_command(service: str, port: int, *, workers: int = 1) -> list[str]:
    """The command that runs ``service`` on loopback: ``iplos serve`` (iplos_chain.serve) of its program, in this
    interpreter, with ``workers`` processes and :data:`GRACEFUL_SHUTDOWN_S` for what is in flight at a SIGTERM."""
    program = PROGRAMS[service]
    return [
        *(sys.executable, "-m", "iplos_cli.main", "serve", program, "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--graceful-shutdown-s", str(GRACEFUL_SHUTDOWN_S)),
    ]


def trust(state_dir: Path, as_municipality: str | None = None) -> ssl.SSLContext:
    """A client's TLS context for the chain under ``state_dir``: its directory's CA, and the host name checked;
    with ``as_municipality`` (a kommuneNr), presenting that municipality's client certificate, as its gateway
    does (the TPF tells of a message only to the municipality whose message it is)."""
    ca = PublicDirectory.load(state_dir / KEYS_FOLDER / DIRECTORY_FILE).tls_ca
    if as_municipality is None:
        return client_context(ca)
    return client_context(ca, *tls_files(state_dir / KEYS_FOLDER / MUNICIPALITIES_FOLDER / party_name(as_municipality)))


@dataclass
class Chain:
    """The three services as child processes. Use as a context manager; ``stop()`` ends them."""

    state_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    workers: int = 1
    """Processes per service (uvicorn's ``--workers``)."""
    register: bool = False
    """Also run the population register's gateway (:data:`REGISTER_GATEWAY`), last: it delivers to the TPF."""

    @property
    def services(self) -> tuple[str, ...]:
        """The processes this chain runs, in start order."""
        return (*SERVICES, REGISTER_GATEWAY) if self.register else SERVICES

    @property
    def register_token(self) -> str:
        """The population register's token at its gateway (it sends extracts for every municipality)."""
        return ensure_register_token(self.state_dir)

    def url(self, service: str) -> str:
        return f"https://127.0.0.1:{self.ports[service]}"

    @functools.cached_property
    def verify(self) -> ssl.SSLContext:
        """What an HTTP client of this chain verifies its services with (httpx's ``verify=``): its CA."""
        return trust(self.state_dir)

    @property
    def ca_file(self) -> Path:
        """The development CA's certificate (``curl --cacert``, ``SSL_CERT_FILE``)."""
        return ca_certificate_file(self.state_dir / KEYS_FOLDER)

    @property
    def operator_token(self) -> str:
        return ensure_operator_token(self.state_dir)

    @property
    def auditor_token(self) -> str:
        """Every service's audit log, and the registry's operator views without findings detail."""
        return ensure_auditor_token(self.state_dir)

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
        if service == REGISTER_GATEWAY:
            ensure_register_token(self.state_dir)
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
            launch_command(service, self.ports[service], workers=self.workers),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: the service's manager and its workers
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
                    self._check_answering(service)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{service} did not become ready within {timeout_s:.0f} s (GET /readyz names the check)")

    def _check_answering(self, service: str) -> None:
        """The process that answered is the one this chain started (its process group), not another program on the
        port, such as an earlier ``iplos up`` of the same state folder, whose answers would look right."""
        port = self.ports[service]
        listeners = procfs.listener_pids(port)
        own = self.processes[service].pid
        if listeners and not any(procfs.process_group(pid) == own for pid in listeners):
            raise PortTaken(f"port {port} ({service}) answers, but not from the {service} this command started")

    def check_ports_free(self) -> None:
        """Refuse to start when a port of the chain is taken, before anything starts, with the program holding it
        where it can be told."""
        for service in self.services:
            port = self.ports[service]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    holders = sorted(procfs.listener_pids(port))
                    held = f" by process {', '.join(map(str, holders))}" if holders else ""
                    raise PortTaken(
                        f"port {port} for the {service} is already in use{held} (an earlier 'iplos up'?): stop it first"
                    ) from None

    def dead(self) -> dict[str, int]:
        """The services that have ended since they started, with their exit codes."""
        return {service: code for service, process in self.processes.items() if (code := process.poll()) is not None}

    def start_all(self) -> None:
        for service in self.services:
            self.start(service)

    def stop(self, service: str, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: the service drains (requests in flight answered, its outbox's attempt finished or handed
        back) and ends; SIGKILL: the whole service, manager and workers at once, as a machine's crash would."""
        process = self.processes.pop(service, None)
        if process is None:
            return
        if process.poll() is None:
            if sig == signal.SIGKILL:
                _kill_group(process.pid)
            else:
                process.send_signal(sig)
            try:
                process.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()
        _kill_group(process.pid)  # a worker left behind by a manager that died first

    def worker_pids(self, service: str) -> list[int]:
        """The processes that serve ``service``'s requests: uvicorn's worker processes (children of its
        manager), or the one process when it runs without workers. Empty if it is not running."""
        process = self.processes.get(service)
        if process is None or process.poll() is not None:
            return []
        if self.workers <= 1:
            return [process.pid]
        return [pid for pid in procfs.children(process.pid) if procfs.is_uvicorn_worker(pid)]

    def stop_all(self) -> None:
        for service in reversed(self.services):
            self.stop(service)

    def __enter__(self) -> Chain:
        if self.processes:
            return self  # started already (iplos up starts them itself, to tell a port taken apart)
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


class PortTaken(RuntimeError):
    """A port of the chain is held by another program."""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
