"""Who holds a lease or a staging folder, and whether that holder can still be alive.

An owner id is ``<pid>.<process token>.<instance token>@<host>``: the process token is drawn once per process (so a
later process that happens to get the same pid, as a restarted container's pid 1 does, is told apart), the
instance token once per outbox (two outboxes in one process never share a lease). Only an owner on this host can
be known to be dead; anyone else's lease is left to run out.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from typing import Final

_PROCESS: Final = secrets.token_hex(4)
_HOST_LENGTH: Final = 64
_PATTERN: Final = re.compile(r"(?P<pid>\d+)\.(?P<process>[0-9a-f]+)\.(?P<instance>[0-9a-f]+)@(?P<host>[A-Za-z0-9.-]+)")


def _this_host() -> str:
    # Folder-safe and bounded: the id goes into a column and into staging folder names.
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:_HOST_LENGTH] or "localhost"


@dataclass(frozen=True)
class Owner:
    """A worker (one outbox instance in one process on one host)."""

    pid: int
    process: str
    instance: str
    host: str

    @classmethod
    def new(cls) -> Owner:
        """This process's new outbox instance."""
        return cls(os.getpid(), _PROCESS, secrets.token_hex(4), _this_host())

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        match = _PATTERN.fullmatch(text)
        if match is None:
            return None
        return cls(int(match["pid"]), match["process"], match["instance"], match["host"])

    def __str__(self) -> str:
        return f"{self.pid}.{self.process}.{self.instance}@{self.host}"

    def may_be_alive(self) -> bool:
        """False only when it is certain that this owner's process has ended: it ran on this host, and its pid is
        gone or now belongs to another process (another process token under this very pid)."""
        if self.host != _this_host():
            return True
        if self.pid == os.getpid():
            return self.process == _PROCESS
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a process of another user: alive, and not ours to judge
            return True
        return True


def may_be_alive(owner: str) -> bool:
    """:meth:`Owner.may_be_alive` for a stored id; an id that is not an owner's at all is nobody's (False)."""
    parsed = Owner.parse(owner)
    return parsed is not None and parsed.may_be_alive()
