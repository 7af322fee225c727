"""What hostile uploads cost a real gateway process: peak memory, peak disk, the answers.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.gateway.bench_uploads [--uploads 6] [--mb 64] [--kind malformed]

Starts the gateway alone (uvicorn in a child process, ``iplos_chain``: no TPF or registry is needed to
refuse an export) on a scratch state folder, then sends ``--uploads`` concurrent uploads of ``--mb`` MiB each
with one municipality's token, streamed (chunked, no Content-Length), and prints:

* the answers (status and problem type, counted);
* the gateway's resident memory before the uploads and its peak (``VmHWM`` in /proc/<pid>/status, the
  kernel's high-water mark: nothing is missed between samples);
* the peak disk the gateway held for the uploads, sampled every 20 ms: the files it has open (a spooled body
  is an anonymous temporary file, invisible in any folder) plus everything under its work folder (sealed parts).

Kinds of body: ``malformed`` (``<`` repeated: the issue's attack), ``text`` (a valid start, then one huge
text node), ``attribute`` (one huge attribute value), ``comment`` (one huge comment), ``deep`` (elements nested
without end), ``person`` (a schema-valid start, then one person with services without end). ``--file`` sends
an export from disk instead (``iplos generate``; municipality 0301), to see what a valid one costs.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from iplos_chain import Chain, ensure_keys, free_port
from shared.iplos.schema import EXPORT_NAMESPACE

MUNICIPALITY = "0301"
CHUNK = 1 << 16
_START = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<iplosMelding xmlns="{EXPORT_NAMESPACE}" formatVersjon="1.1">\n'
    "<meldingshode><meldingGUID>6f1c9c1e-4f0a-4d2b-9a55-3c2b1d0e9f11</meldingGUID><epj><navnEPJ>Bench</navnEPJ>"
    "<leverandor>Bench</leverandor><versjonEPJ>1</versjonEPJ></epj><rapporteringsaar>2025</rapporteringsaar>"
    f"<kommuneNr>{MUNICIPALITY}</kommuneNr></meldingshode>\n<personer>\n"
).encode()
_SERVICE = b'<tjeneste tjenesteID="S1" tjenesteType="15"><startdato>2025-01-01</startdato></tjeneste>\n'
KINDS: dict[str, tuple[bytes, bytes]] = {
    # (the start of the body, the block repeated after it)
    "malformed": (b"", b"<" * CHUNK),
    "text": (_START + b"<person><brukerNr>", b"a" * CHUNK),
    "attribute": (_START + b'<person x="', b"a" * CHUNK),
    "comment": (_START + b"<!--", b"a" * CHUNK),
    "deep": (_START, b"<a>" * (CHUNK // 3)),
    "person": (
        _START + b'<person><brukerNr>B1</brukerNr><fid type="FNR">12843624446</fid><tjenester>\n',
        _SERVICE * (CHUNK // len(_SERVICE)),
    ),
}


def body(kind: str, size: int, file: Path | None = None) -> Iterator[bytes]:
    if file is not None:
        with file.open("rb") as handle:
            while block := handle.read(CHUNK):
                yield block
        return
    start, block = KINDS[kind]
    yield start
    sent = len(start)
    while sent < size:
        piece = block[: size - sent]
        yield piece
        sent += len(piece)


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def held_bytes(pid: int, work: Path) -> int:
    """Bytes of the regular files the process has open (its spooled bodies) and of its work folder."""
    total = 0
    seen: set[tuple[int, int]] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fd_dir):
        try:
            st = os.stat(fd_dir / fd)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000 and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    for root, _dirs, files in os.walk(work):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def run(uploads: int, mib: int, kind: str, extra_env: dict[str, str], file: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as scratch:
        state = Path(scratch)
        ensure_keys(state, [MUNICIPALITY])
        chain = Chain(state, ports={"gateway": free_port(), "tpf": free_port(), "registry": free_port()})
        chain.extra_env = {"gateway": extra_env}
        chain.start("gateway")
        try:
            pid = chain.processes["gateway"].pid
            token = chain.municipality_token(MUNICIPALITY)
            url = chain.url("gateway") + "/v1/submissions"
            before = rss_kib(pid, "VmRSS")
            answers: collections.Counter[str] = collections.Counter()
            peak_disk = 0
            done = threading.Event()

            def sample() -> None:
                nonlocal peak_disk
                while not done.is_set():
                    peak_disk = max(peak_disk, held_bytes(pid, state / "gateway" / "work"))
                    time.sleep(0.02)

            def upload() -> None:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
                try:
                    with httpx.Client(timeout=600) as client:
                        response = client.post(url, content=body(kind, mib << 20, file), headers=headers)
                    slug = response.json().get("type", "").rsplit(":", 1)[-1]
                    answers[f"{response.status_code} {slug}".strip()] += 1
                except httpx.HTTPError as exc:
                    answers[type(exc).__name__] += 1

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            threads = [threading.Thread(target=upload) for _ in range(uploads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            done.set()
            sampler.join()
            peak = rss_kib(pid, "VmHWM")
        finally:
            chain.stop_all()
        errors = [
            line
            for log in (state / "gateway" / "logs").glob("*.log")
            for line in log.read_text(errors="replace").splitlines()
            if "unexpected error" in line
        ]
    what = f"{file.name} ({file.stat().st_size / 2**20:.0f} MiB)" if file else f"{mib} MiB ({kind})"
    print(f"{uploads} concurrent uploads of {what}, one municipality's token, {elapsed:.1f} s")
    print(f"  answers:         {dict(sorted(answers.items()))}")
    print(f"  gateway RSS:     {before / 1024:7.0f} MiB before, {peak / 1024:7.0f} MiB peak (VmHWM)")
    print(f"  peak disk held:  {peak_disk / 2**20:7.0f} MiB (open files and work folder)")
    for line in errors[:5]:
        print(f"  gateway log:     {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=6)
    parser.add_argument("--mb", type=int, default=64, help="MiB per upload")
    parser.add_argument("--kind", choices=sorted(KINDS), default="malformed")
    parser.add_argument("--file", type=Path, help="upload this export (for municipality 0301) instead")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra gateway setting (repeatable)"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    run(args.uploads, args.mb, args.kind, extra, args.file)


if __name__ == "__main__":
    main()
