"""A municipality's population register extract through the real chain: the register's gateway, the TPF and the
registry, each a real uvicorn process, with the wall time and each process's peak memory.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.e2e.bench_register_path [--persons 700000]

It writes a synthetic extract of ``--persons`` residents of Oslo (0301) for 2025 (synthetic identity numbers only;
one in ten with a D-number replaced by a fødselsnummer), starts a chain with the register's gateway on a fresh
state folder (SQLite), sends the extract with ``iplos``'s client as the register's IT staff would, waits for the
registry's receipt, and prints the file's size, the wall time from upload to receipt, persons per second, and the
peak resident memory (VmHWM) of each service's process. The chain's memory target is 150 MB a process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from iplos_chain import REGISTER_GATEWAY, SERVICES, Chain, client, ensure_keys, free_port
from iplos_testkit.bench.processes import PeakWatch
from shared.fnr import Sex, synthetic_for
from shared.population import ExtractHeader, IdentityEntry, NumberType, RegisterPerson, Residence, write_extract

MUNICIPALITY = "0301"
YEAR = 2025


def residents(count: int, seed: int) -> Iterator[RegisterPerson]:
    rng = random.Random(seed)
    used: set[str] = set()

    def number(birth: dt.date, sex: Sex, *, d_number: bool) -> str:
        while True:
            value = synthetic_for(birth, sex, rng, d_number=d_number)
            if value not in used:
                used.add(value)
                return value

    for index in range(count):
        sex = Sex.FEMALE if index % 2 else Sex.MALE
        birth = dt.date(1925 + rng.randrange(95), 1 + rng.randrange(12), 1 + rng.randrange(28))
        moved = max(birth, dt.date(2000 + rng.randrange(25), 1 + rng.randrange(12), 1))
        if index % 10 == 0:
            replaced = moved + dt.timedelta(days=365)  # a year on a D-number, then a fødselsnummer
            last_day = replaced - dt.timedelta(days=1)
            numbers: tuple[IdentityEntry, ...] = (
                IdentityEntry(number(birth, sex, d_number=True), NumberType.DNR, moved, last_day),
                IdentityEntry(number(birth, sex, d_number=False), NumberType.FNR, replaced, None),
            )
        else:
            numbers = (IdentityEntry(number(birth, sex, d_number=False), NumberType.FNR, None, None),)
        residence = (Residence(MUNICIPALITY, moved, None),)
        yield RegisterPerson(numbers, sex, birth.year, residence, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=700_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        extract = state / f"{MUNICIPALITY}-{YEAR}.jsonl"
        started = time.perf_counter()
        with extract.open("wb") as out:
            header = ExtractHeader(str(uuid.uuid4()), MUNICIPALITY, YEAR, dt.date(YEAR + 1, 1, 20))
            write_extract(out, header, residents(args.persons, args.seed))
        print(
            f"extract: {args.persons:,} persons, {extract.stat().st_size / 1e6:.0f} MB, written in "
            f"{time.perf_counter() - started:.0f} s"
        )
        ensure_keys(state, [MUNICIPALITY])
        ports = {service: free_port() for service in (*SERVICES, REGISTER_GATEWAY)}
        with Chain(state, ports=ports, register=True) as chain:
            groups = {service: process.pid for service, process in chain.processes.items()}
            watch = PeakWatch(groups, several_workers=False)
            watch.start()
            token, gateway = chain.register_token, chain.url(REGISTER_GATEWAY)
            started = time.perf_counter()
            accepted = client.submit(extract, gateway, token=token, verify=chain.verify)
            uploaded = time.perf_counter() - started
            final = client.wait_final(gateway, accepted["submission_id"], 3600, token=token, verify=chain.verify)
            wall = time.perf_counter() - started
            watch.stop()
        receipt = final.get("receipt") or {}
        print(f"state {final['state']}, persons stored {receipt.get('records_stored')}")
        print(
            f"upload (sealed and staged at the register's gateway) {uploaded:.1f} s; upload to receipt {wall:.1f} s; "
            f"{args.persons / wall:,.0f} persons/s"
        )
        for service, peaks in watch.peaks.items():
            peak = peaks.peak
            print(f"  peak RSS {service:16} {'-' if peak is None else f'{peak.hwm_mb:.0f} MB'}")


if __name__ == "__main__":
    main()
