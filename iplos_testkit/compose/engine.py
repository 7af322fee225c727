"""The container engine on this host: Debian's podman and podman-compose, installed when missing; the two
containers.conf settings podman needs on this machine class; a Debian base image built once with mmdebstrap
(no container registry is reachable here); and a runner that logs every command's output to a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "BASE_IMAGE",
    "CONTAINERS_CONF",
    "PACKAGES",
    "CommandFailed",
    "Runner",
    "ensure_base_image",
    "ensure_containers_conf",
    "ensure_packages",
    "extra_ca_certificates",
    "image_exists",
    "is_root",
]

#: Debian packages and the command each provides.
PACKAGES: Final = {"podman": "podman", "podman-compose": "podman-compose", "mmdebstrap": "mmdebstrap", "runc": "runc"}
#: The local base of both images (deploy/Dockerfile, deploy/postgres/Dockerfile): Debian bookworm with its
#: python3 (3.11) and venv module. Built once and kept by this tag.
BASE_IMAGE: Final = "localhost/iplos-base:bookworm"
BASE_PACKAGES: Final = "python3,python3-venv,ca-certificates"
CONTAINERS_CONF: Final = Path("/etc/containers/containers.conf")
#: Without these no container starts here: crun cannot raise RLIMIT_NOFILE in this sandbox, and crun does not
#: support the host's hybrid cgroups; runc does.
CONTAINERS_CONF_TEXT: Final = """\
# Written by iplos-chain's `make compose-test` (iplos_testkit/compose/engine.py) because this file was absent:
# without these settings no container starts on this machine class (crun cannot set RLIMIT_NOFILE here and does
# not run on its hybrid cgroups; runc does).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
LOCAL_CA_FOLDER: Final = Path("/usr/local/share/ca-certificates")


class CommandFailed(RuntimeError):
    """A command exited non-zero; the message names it and ends with its output's last lines."""


@dataclass
class Runner:
    """Runs commands with their output appended to ``log``; a failure raises with the output's tail."""

    log: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: bytes | None = None, check: bool = True, quiet: bool = False) -> str:
        with self.log.open("ab") as log:
            log.write(f"\n$ {' '.join(args)}\n".encode())
        result = subprocess.run(list(args), input=stdin, capture_output=True, env=self.env, check=False)
        with self.log.open("ab") as log:
            if not quiet:
                log.write(result.stdout)
            log.write(result.stderr)
        if check and result.returncode != 0:
            tail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-25:]
            raise CommandFailed(f"{' '.join(args[:3])} ... exited with {result.returncode}:\n  " + "\n  ".join(tail))
        return result.stdout.decode(errors="replace")

    def shell(self, script: str) -> str:
        """A pipeline (the base image: mmdebstrap into podman import)."""
        return self.run("bash", "-o", "pipefail", "-c", script)


def ensure_packages(runner: Runner, say: Callable[[str], None]) -> None:
    missing = [package for package, command in PACKAGES.items() if shutil.which(command) is None]
    if not missing:
        say("podman, podman-compose, mmdebstrap and runc are installed")
        return
    say(f"installing Debian's {' '.join(missing)} (apt-get install -y {' '.join(missing)}) ...")
    if shutil.which("apt-get") is None:
        raise CommandFailed(f"{', '.join(missing)} missing and there is no apt-get to install them; install them")
    env = {**runner.env, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        Runner(runner.log, env).run("apt-get", "update", "-qq")
        Runner(runner.log, env).run("apt-get", "install", "-y", "-qq", *missing)
    except CommandFailed as exc:
        raise CommandFailed(
            f"could not install {' '.join(missing)} with apt-get, which `make compose-test` needs: {exc}"
        ) from None


def ensure_containers_conf(say: Callable[[str], None]) -> None:
    """Write the two settings when the host has no containers.conf; an existing one is the host's choice."""
    if CONTAINERS_CONF.exists():
        say(f"{CONTAINERS_CONF} exists: left as it is (podman needs runtime = runc and default_ulimits here)")
        return
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)
    say(f"wrote {CONTAINERS_CONF}: default_ulimits and runtime = runc (no container starts here without them)")


def ensure_base_image(runner: Runner, say: Callable[[str], None]) -> bool:
    """Build :data:`BASE_IMAGE` from Debian packages unless it exists; True if it was built now."""
    if image_exists(runner, BASE_IMAGE):
        say(f"base image {BASE_IMAGE} exists (cached by tag; `podman rmi {BASE_IMAGE}` rebuilds it)")
        return False
    mirror = _debian_mirror()
    security = mirror.removesuffix("/debian") + "/debian-security"
    say(f"building the base image {BASE_IMAGE} from Debian packages with mmdebstrap ({mirror}) ...")
    runner.shell(
        f"mmdebstrap --variant=minbase --include={BASE_PACKAGES} bookworm - "
        f"'deb {mirror} bookworm main' 'deb {mirror} bookworm-updates main' "
        f"'deb {security} bookworm-security main' "
        f"| podman import --change 'CMD [\"/bin/bash\"]' - {BASE_IMAGE}"
    )
    return True


def image_exists(runner: Runner, image: str) -> bool:
    result = subprocess.run(["podman", "image", "exists", image], env=runner.env, check=False)
    return result.returncode == 0


def _debian_mirror() -> str:
    """The host's own Debian mirror (its apt sources), so the base comes from where the host's packages do."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1].rstrip("/")
    return "http://deb.debian.org/debian"


def extra_ca_certificates() -> str:
    """The host's local CA certificates (PEM), for the images' EXTRA_CA_CERTS build input: here the package index
    is reached through a TLS-intercepting proxy whose CA only the host has (deploy/README.md)."""
    if not LOCAL_CA_FOLDER.is_dir():
        return ""
    return "".join(path.read_text() for path in sorted(LOCAL_CA_FOLDER.glob("*.crt")))


def is_root() -> bool:
    return os.geteuid() == 0
