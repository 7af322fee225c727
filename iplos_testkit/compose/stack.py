"""One compose project of docker-compose.yml under podman-compose: its keys and secrets, start, readiness and a
teardown that removes everything the project made (containers, pod, network, volumes), by the project's label.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from iplos_chain import (
    CREDENTIALS_FOLDER,
    ensure_gateway_credentials,
    ensure_gateway_registry_token,
    ensure_keys,
    ensure_operator_token,
)
from iplos_testkit.compose.engine import CommandFailed, Runner, image_exists

__all__ = ["SERVICES", "Stack"]

#: The compose file's services, PostgreSQL first.
SERVICES: Final = ("postgres", "registry", "tpf", "gateway")
PROJECT_LABEL: Final = "io.podman.compose.project"
SERVICE_LABEL: Final = "com.docker.compose.service"


@dataclass
class Stack:
    """The project ``name`` of ``compose_file``, with its keys and secrets under ``work``."""

    name: str
    compose_file: Path
    work: Path
    runner: Runner
    municipalities: list[str] = field(default_factory=lambda: ["0301"])

    @property
    def state(self) -> Path:
        """Keys and development credentials, as ``iplos up`` lays them out (iplos_chain.state)."""
        return self.work / "state"

    @property
    def secrets(self) -> Path:
        """The per-service folders deploy/prepare-secrets makes (IPLOS_SECRETS_DIR)."""
        return self.work / "secrets"

    def prepare_secrets(self) -> dict[str, str]:
        """Keys and certificates for every party, development tokens, and each service's secrets folder.
        Returns the tokens the check needs: the operator's and each municipality's."""
        ensure_keys(self.state, self.municipalities)
        operator = ensure_operator_token(self.state)
        tokens = ensure_gateway_credentials(self.state)
        ensure_gateway_registry_token(self.state)
        self.runner.run(
            str(self.compose_file.parent / "deploy" / "prepare-secrets"),
            "--keys",
            str(self.state / "keys"),
            "--credentials",
            str(self.state / CREDENTIALS_FOLDER),
            "--out",
            str(self.secrets),
        )
        return {"operator": operator, **tokens}

    def build(self, images: tuple[str, ...]) -> None:
        """``podman-compose build``, which exits 0 even when a build failed (podman-compose 1.0.3): the tags are
        taken off first (the layers stay, as the cache) and must be there again afterwards."""
        before = {image: self._image_id(image) for image in images}
        for image in images:
            self.runner.run("podman", "untag", image, check=False, quiet=True)
        self.compose("build")
        missing = [image for image in images if not image_exists(self.runner, image)]
        if missing:
            raise CommandFailed(f"podman-compose build did not build {', '.join(missing)} (see the command log)")
        # The image a changed build replaced is left without a name: removed, so runs do not pile them up.
        for image, old in before.items():
            if old and old != self._image_id(image):
                self.runner.run("podman", "rmi", old, check=False, quiet=True)

    def _image_id(self, image: str) -> str:
        return self.runner.run("podman", "image", "inspect", "--format", "{{.Id}}", image, check=False).strip()

    def compose(self, *args: str) -> str:
        return self.runner.run("podman-compose", "--project-name", self.name, "--file", str(self.compose_file), *args)

    def containers(self) -> dict[str, str]:
        """The project's containers by compose service: service -> container id."""
        out = self.runner.run(
            "podman", "ps", "--all", "--filter", f"label={PROJECT_LABEL}={self.name}", "--format", "json", quiet=True
        )
        found: dict[str, str] = {}
        for container in json.loads(out or "[]"):
            labels = container.get("Labels") or {}
            found[labels.get(SERVICE_LABEL, container["Names"][0])] = container["Id"]
        return found

    def wait_healthy(self, timeout_s: float) -> dict[str, float]:
        """Run each container's own health check (``podman healthcheck run``: podman's timers need systemd, so
        nothing runs them here) until every one passes; seconds until each passed. A container that stopped or
        did not pass in time fails, with its log's last lines."""
        start = time.monotonic()
        healthy: dict[str, float] = {}
        while True:
            containers = self.containers()
            for service in SERVICES:
                if service in healthy:
                    continue
                cid = containers.get(service)
                if cid is None:
                    raise CommandFailed(f"the project has no {service} container")
                probe = subprocess.run(
                    ["podman", "healthcheck", "run", cid], capture_output=True, env=self.runner.env, check=False
                )
                if probe.returncode == 0:
                    healthy[service] = time.monotonic() - start
            if len(healthy) == len(SERVICES):
                return healthy
            if time.monotonic() - start > timeout_s:
                waiting = [s for s in SERVICES if s not in healthy]
                raise CommandFailed(f"not healthy within {timeout_s:.0f} s: {', '.join(waiting)}")
            time.sleep(1.0)

    def log_lines(self, marker: str, services: tuple[str, ...]) -> list[str]:
        """The log lines of ``services`` that start with ``marker``, each prefixed with its service."""
        containers = self.containers()
        found = []
        for service in services:
            out = subprocess.run(
                ["podman", "logs", containers[service]], capture_output=True, env=self.runner.env, check=False
            )
            text = (out.stdout + out.stderr).decode(errors="replace")
            found += [f"{service}: {line}" for line in text.splitlines() if line.startswith(marker)]
        return found

    def start(self, *services: str) -> None:
        containers = self.containers()
        for service in services:
            self.runner.run("podman", "start", containers[service])

    def end_main_process(self, service: str) -> None:
        """SIGTERM to the service's main process from inside its container: it drains and exits by itself, as
        after a crash, not stopped through the engine (which the restart policy would respect)."""
        self.runner.run("podman", "exec", self.containers()[service], "sh", "-c", "kill -TERM 1")

    def wait_restarted(self, service: str, timeout_s: float) -> int:
        """Wait until the engine has restarted ``service``'s container (its restart count went up)."""
        deadline = time.monotonic() + timeout_s
        cid = self.containers()[service]
        while True:
            out = self.runner.run("podman", "inspect", "--format", "{{.RestartCount}}", cid, quiet=True)
            if int(out.strip() or 0) > 0:
                return int(out.strip())
            if time.monotonic() > deadline:
                raise CommandFailed(f"{service} was not restarted within {timeout_s:.0f} s")
            time.sleep(0.5)

    def backup_and_restore(self, database: str) -> int:
        """The operations guide's backup, for real: ``pg_dump --format=custom`` of ``database`` inside the
        PostgreSQL container, restored into a scratch database, whose tables must be the same. Returns the dump's
        size in bytes."""
        pg = self.containers()["postgres"]
        dump = subprocess.run(
            ["podman", "exec", pg, "pg_dump", "--format=custom", f"--dbname={database}"],
            capture_output=True,
            env=self.runner.env,
            check=False,
        )
        if dump.returncode != 0 or not dump.stdout:
            raise CommandFailed(f"pg_dump {database} failed: {dump.stderr.decode(errors='replace')[-500:]}")
        scratch = f"{database}_restore_check"
        self.runner.run("podman", "exec", pg, "createdb", f"--owner={database}", scratch)
        try:
            self.runner.run(
                "podman",
                "exec",
                "-i",
                pg,
                "pg_restore",
                f"--dbname={scratch}",
                "--no-owner",
                f"--role={database}",
                stdin=dump.stdout,
            )
            tables = "select string_agg(table_name, ',' order by table_name) from information_schema.tables"
            tables += " where table_schema = 'public'"
            counts = "select (select count(*) from alembic_version)"
            original, restored = (
                self.runner.run("podman", "exec", pg, "psql", "-Atc", f"{tables}; {counts}", name, quiet=False)
                for name in (database, scratch)
            )
            if original != restored or not original.strip():
                raise CommandFailed(f"the restored {database} has other tables than the original")
        finally:
            self.runner.run("podman", "exec", pg, "dropdb", scratch, check=False)
        return len(dump.stdout)

    def logs(self, lines: int = 40) -> str:
        """Each container's last log lines (the services never log identities, pseudonyms or payload)."""
        parts = []
        for service, cid in self.containers().items():
            out = subprocess.run(
                ["podman", "logs", "--tail", str(lines), cid], capture_output=True, env=self.runner.env, check=False
            )
            text = (out.stdout + out.stderr).decode(errors="replace").rstrip()
            parts.append(f"--- {service} ---\n{text}")
        return "\n".join(parts)

    def teardown(self) -> list[str]:
        """``podman-compose down -v``, then whatever is still labelled with the project or named after it
        (containers, pods, networks, volumes), each by id. Returns what was left after ``down``, if anything."""
        leftovers: list[str] = []
        try:
            self.compose("down", "--volumes")
        except CommandFailed as exc:
            leftovers.append(f"podman-compose down failed: {exc}")
        label = f"label={PROJECT_LABEL}={self.name}"
        for kind, listing, removal in (
            ("container", ["ps", "--all", "--quiet", "--filter", label], ["rm", "--force", "--volumes"]),
            ("pod", ["pod", "ps", "--quiet", "--filter", f"name=^pod_{self.name}$"], ["pod", "rm", "--force"]),
            ("network", ["network", "ls", "--quiet", "--filter", label], ["network", "rm", "--force"]),
            ("volume", ["volume", "ls", "--quiet", "--filter", label], ["volume", "rm", "--force"]),
        ):
            ids = self.runner.run("podman", *listing, check=False, quiet=True).split()
            # A network is listed by name: "--quiet" gives names for networks.
            for ident in ids:
                leftovers.append(f"{kind} {ident}")
                self.runner.run("podman", *removal, ident, check=False)
        return leftovers
