"""The phases of ``make compose-test``, each timed, and the check that the chain in containers works end to end:
a synthetic export submitted through the published gateway port comes back with the registry's signed receipt,
and the registry's operator API shows the same receipt, which verifies against the public-key directory.

Transport: mutual TLS, as the stack runs it. The host side trusts the directory's CA (the certificates name
``localhost`` and 127.0.0.1 beside the services' hosts, so the published ports verify) and submits as the
municipality's gateway client would, presenting that municipality's certificate (:func:`iplos_chain.trust`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx

from iplos_chain import client, free_port, trust
from iplos_testkit.compose.checks import check_secrets, check_without_client_certificate
from iplos_testkit.compose.engine import (
    BASE_IMAGE,
    CommandFailed,
    Runner,
    ensure_base_image,
    ensure_containers_conf,
    ensure_packages,
    extra_ca_certificates,
    is_root,
)
from iplos_testkit.compose.stack import Stack
from iplos_testkit.exports import write_synthetic_export
from shared.envelope.receipts import verify_receipt
from shared.keys import PublicDirectory

__all__ = ["SCHEME", "main"]

SCHEME: Final = "https"
MUNICIPALITY: Final = "0301"
YEAR: Final = 2025
PERSONS: Final = 200
IMAGE_TAG: Final = "compose-test"
#: How long the services run before PostgreSQL is started at all.
DATABASE_LATE_S: Final = 5.0
PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]


def say(message: str) -> None:
    print(f"compose-test: {message}", flush=True)


class Phases:
    """Each phase's wall time, for the summary."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float, bool]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        say(f"-- {name}")
        start = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.monotonic() - start
            self.times.append((name, seconds, ok))
            say(f"   {name}: {seconds:.1f} s{'' if ok else ' (failed)'}")

    def summary(self) -> list[str]:
        width = max(len(name) for name, _, _ in self.times)
        lines = [f"  {name:<{width}}  {seconds:7.1f} s  {'ok' if ok else 'FAILED'}" for name, seconds, ok in self.times]
        lines.append(f"  {'total':<{width}}  {sum(s for _, s, _ in self.times):7.1f} s")
        return lines


def _wait_ready(url: str, verify: ssl.SSLContext, timeout_s: float) -> None:
    """The published port answers /readyz with 200 (from the host, through the engine's port forwarding)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=3.0, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise CommandFailed(f"{url}/readyz did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.5)


def check_chain(
    stack: Stack, tokens: dict[str, str], urls: tuple[str, str], timeout_s: float, *, vary: int = 0
) -> dict[str, Any]:
    """Submit a synthetic export through the published gateway port, wait for the registry's receipt, and check
    it at the registry's operator API (the same receipt, signed by the registry, the records there). Returns the
    receipt. ``vary`` > 0 gives changed data for the same municipality-year (a resubmission). Over mutual TLS:
    the municipality's client certificate towards the gateway, the CA alone (an operator's token, no party)
    towards the registry."""
    gateway, registry = urls
    export = stack.work / f"export-{vary}.xml"
    persons, _ = write_synthetic_export(export, MUNICIPALITY, YEAR, PERSONS, 12, vary=vary)
    token = tokens[MUNICIPALITY]
    municipality = trust(stack.state, as_municipality=MUNICIPALITY)
    accepted = client.submit(export, gateway, token=token, verify=municipality)
    submission_id = accepted["submission_id"]
    say(f"submitted {persons} synthetic persons of {MUNICIPALITY}/{YEAR} over mutual TLS: submission {submission_id}")
    final = client.wait_final(gateway, submission_id, timeout_s, token=token, verify=municipality)
    receipt: dict[str, Any] | None = final.get("receipt")
    if final["state"] != "stored" or receipt is None:
        raise CommandFailed(f"submission {submission_id} ended {final['state']}, not stored with a receipt")
    if receipt["status"] != "stored" or receipt["records_stored"] != persons:
        raise CommandFailed(f"the receipt says {receipt['status']}, {receipt['records_stored']} records")
    detail = client.get_json(
        f"{registry}/v1/operator/submissions/{submission_id}", tokens["operator"], verify=trust(stack.state)
    )
    signed = detail["receipt"]
    if signed["receipt"] != receipt or signed["signature"] != final["receipt_signature"]:
        raise CommandFailed("the registry's operator API shows another receipt than the gateway got")
    directory = PublicDirectory.load(stack.state / "keys" / "directory.json")
    verify_receipt(directory, signed, submission_id, receipt["submission_sha256"])
    if detail["submission"]["records"] != persons:
        raise CommandFailed(f"the registry holds {detail['submission']['records']} records, not {persons}")
    say(
        f"receipt for {submission_id}: {receipt['status']}, {receipt['records_stored']} records"
        + (f", supersedes {receipt['supersedes']}" if receipt["supersedes"] else "")
        + "; signed by the registry (verified against directory.json) and the same at the operator API"
    )
    return receipt


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make compose-test", description=__doc__)
    parser.add_argument("--compose-file", type=Path, default=PROJECT_ROOT / "docker-compose.yml")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for health and the receipt")
    parser.add_argument("--keep-work", action="store_true", help="keep the work folder (keys, secrets, logs)")
    args = parser.parse_args(argv)
    if not is_root():
        say("error: run as root (rootful podman: deploy/prepare-secrets gives the secrets to the containers' users)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="iplos-compose-test-"))
    log = work / "commands.log"
    gateway_port, registry_port = free_port(), free_port()
    env = {
        **os.environ,
        "IPLOS_SECRETS_DIR": str(work / "secrets"),
        "IPLOS_BASE_IMAGE": BASE_IMAGE,
        "IPLOS_EXTRA_CA_CERTS": extra_ca_certificates(),
        "IPLOS_IMAGE_TAG": IMAGE_TAG,
        "IPLOS_GATEWAY_PORT": str(gateway_port),
        "IPLOS_REGISTRY_PORT": str(registry_port),
        # The stack's data is synthetic (a production TPF refuses test numbers, the compose file's default).
        "IPLOS_TPF_ACCEPT_SYNTHETIC_NUMBERS": "true",
    }
    runner = Runner(log, env)
    stack = Stack(f"iplos-ct-{secrets.token_hex(3)}", args.compose_file.resolve(), work, runner)
    gateway = f"{SCHEME}://127.0.0.1:{gateway_port}"
    registry = f"{SCHEME}://127.0.0.1:{registry_port}"
    phases = Phases()
    say(f"project {stack.name}, work folder {work} (command output: {log})")
    ok = False
    started = False
    try:
        with phases.phase("engine (packages, containers.conf)"):
            ensure_packages(runner, say)
            ensure_containers_conf(say)
        with phases.phase("base image"):
            ensure_base_image(runner, say)
        with phases.phase("build images"):
            stack.build(tuple(f"localhost/iplos-{name}:{IMAGE_TAG}" for name in ("chain", "postgres")))
        with phases.phase("keys, certificates, secrets"):
            tokens = stack.prepare_secrets()
            # Each container gets its own TLS key only, and none the CA's: checked on what was prepared.
            directory = PublicDirectory.load(stack.state / "keys" / "directory.json")
            for line in check_secrets(stack.secrets, directory):
                say(f"  secrets/{line}")
        with phases.phase("start: the services, then PostgreSQL"):
            started = True
            # The worst order on purpose: each service must wait for its database (deploy/entrypoint.py).
            # podman-compose 1.0.3 starts dependencies even with --no-deps, so: create all, start by hand.
            stack.compose("up", "--no-start")
            stack.start("registry", "tpf", "gateway")
            time.sleep(DATABASE_LATE_S)
            stack.start("postgres")
        with phases.phase("healthy (every container's health check)"):
            healthy = stack.wait_healthy(args.timeout)
            say("healthy after " + ", ".join(f"{s} {t:.1f} s" for s, t in healthy.items()))
            waited = stack.log_lines("iplos-entrypoint:", services=("registry", "tpf", "gateway"))
            for line in waited:
                say(f"  {line}")
            if sum("waiting up to" in line for line in waited) != 3:
                raise CommandFailed("not every service waited for PostgreSQL, which started after them")
            _wait_ready(gateway, trust(stack.state), 30.0)
            _wait_ready(registry, trust(stack.state), 30.0)
        with phases.phase("submit over mutual TLS, receipt, operator API"):
            first = check_chain(stack, tokens, (gateway, registry), args.timeout)
        with phases.phase("no client certificate at the registry's published port"):
            say(check_without_client_certificate(registry, trust(stack.state)))
        with phases.phase("restart policy: the TPF's process ends, the engine starts it again"):
            stack.end_main_process("tpf")
            restarts = stack.wait_restarted("tpf", args.timeout)
            stack.wait_healthy(args.timeout)
            say(f"tpf restarted by the engine ({restarts} restart) and healthy again")
            second = check_chain(stack, tokens, (gateway, registry), args.timeout, vary=1)
            if second["supersedes"] != first["message_id"]:
                raise CommandFailed("the resubmission does not supersede the first submission")
        with phases.phase("backup and restore (pg_dump, pg_restore) of each database"):
            for database in ("gateway", "tpf", "registry"):
                size = stack.backup_and_restore(database)
                say(f"{database}: dump of {size} bytes restored into a scratch database with the same tables")
        ok = True
    except (CommandFailed, client.ChainError, httpx.HTTPError, OSError, KeyError, ValueError) as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        if started:
            say("container logs (last lines):\n" + stack.logs())
    finally:
        if started:
            with phases.phase("teardown"):
                left = stack.teardown()
                if left:
                    say("removed what `down` left: " + ", ".join(left))
        _remove_work(work, ok=ok, keep=args.keep_work, report=say)
    say("phases:")
    for line in phases.summary():
        print(line, flush=True)
    say("PASSED" if ok else "FAILED")
    return 0 if ok else 1


def _remove_work(work: Path, *, ok: bool, keep: bool, report: Callable[[str], None]) -> None:
    """The work folder holds development keys and tokens: removed after a pass; after a failure its keys and
    secrets are removed and the command log kept for reading. ``keep`` keeps it whole."""
    if keep:
        report(f"kept {work} (keys, secrets, command output in commands.log)")
    elif ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        for folder in ("secrets", "state"):
            shutil.rmtree(work / folder, ignore_errors=True)
        report(f"kept the command output: {work / 'commands.log'}")
