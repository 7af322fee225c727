"""What slow callers can hold of a real TPF process with its default guards: issue 17's attack, measured.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.e2e.bench_slow_callers [--connections 3000]

Starts the TPF alone (uvicorn in a child process, mutual TLS, default settings) on a scratch state folder and
opens ``--connections`` TLS connections, as the issue did: a third send nothing after the handshake, a third
send half a request's headers, a third send a whole upload's headers (a municipality's certificate) and a few
bytes of its body, then nothing. It prints the TPF's open file descriptors (/proc/<pid>/fd) before, with all
of them open, and every five seconds after, and how the connections ended (the answer's status, or none).
Before the guards (issue 17) the figure stayed at about 3,000 after 70 s.
"""

from __future__ import annotations

import argparse
import collections
import os
import selectors
import socket
import ssl
import tempfile
import time
from pathlib import Path

from iplos_chain import Chain, ensure_keys, free_port
from tests.tls import tls_as

UPLOAD_HEAD = (
    b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
    b"Content-Length: 100000000\r\n\r\n--x\r\n"
)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--watch-s", type=float, default=45.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="iplos-bench-slow-") as scratch:
        state = Path(scratch)
        ensure_keys(state, ["0301"])
        chain = Chain(state, ports={s: free_port() for s in ("gateway", "tpf", "registry")})
        chain.start("tpf")
        try:
            pid = chain.processes["tpf"].pid
            before = _fds(pid)
            anonymous, municipality = tls_as(chain, None), tls_as(chain, "kommune-0301")
            selector = selectors.DefaultSelector()
            opened = time.monotonic()
            for n in range(args.connections):
                kind = ("quiet", "headers", "body")[n % 3]
                raw = socket.create_connection(("127.0.0.1", chain.ports["tpf"]), timeout=30)
                sock = (municipality if kind == "body" else anonymous).wrap_socket(raw, server_hostname="127.0.0.1")
                if kind == "headers":
                    sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                elif kind == "body":
                    sock.sendall(UPLOAD_HEAD)
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, [kind, b"", sock])
            print(
                f"TPF file descriptors: {before} before; {_fds(pid)} with {args.connections} connections open "
                f"({time.monotonic() - opened:.1f} s to open them)"
            )
            ended: collections.Counter[tuple[str, str]] = collections.Counter()
            started = time.monotonic()
            next_print = 5.0
            while selector.get_map() and time.monotonic() - started < args.watch_s:
                for key, _ in selector.select(timeout=0.2):
                    sock = key.data[2]
                    try:
                        chunk = sock.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except OSError:
                        chunk = b""
                    if chunk:
                        key.data[1] += chunk
                        continue
                    status = key.data[1].split(b" ", 2)[1].decode() if key.data[1] else "closed"
                    ended[(key.data[0], status)] += 1
                    selector.unregister(sock)
                    sock.close()
                if time.monotonic() - started >= next_print:
                    print(
                        f"  after {next_print:4.0f} s: {_fds(pid)} file descriptors, "
                        f"{len(selector.get_map())} connections still open"
                    )
                    next_print += 5.0
            for (kind, status), count in sorted(ended.items()):
                print(f"  {kind:8} ended with {status}: {count}")
            print(
                f"still open after {args.watch_s:.0f} s: {len(selector.get_map())}; TPF file descriptors: {_fds(pid)}"
            )
        finally:
            chain.stop_all()


if __name__ == "__main__":
    main()
