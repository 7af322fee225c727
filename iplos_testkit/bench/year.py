"""The bench's year of exports: one synthetic export per municipality, generated once and cached.

A year is keyed by (reporting year, municipalities, persons, seed): its folder under the cache holds one
``<kommunenummer>.xml`` per municipality and ``manifest.json``, written last, so a folder without a manifest is
an interrupted generation and is made again. The generator's bytes for a seed are pinned
(tests/testkit/test_pinned_output.py), so a cached year stays the year its key names.

The exports are written by the existing generator (``iplos_testkit.generator.generate_export``) in a process
pool of one worker per core, largest first, so the big ones do not finish last on their own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from iplos_testkit.bench.sizes import bench_municipalities, sizes
from iplos_testkit.generator import generate_export

__all__ = ["DEFAULT_CACHE", "YEAR", "BenchYear", "YearFile", "bench_year"]

DEFAULT_CACHE: Final = Path(".bench-cache")
YEAR: Final = 2025
_MANIFEST: Final = "manifest.json"
#: A smaller year is written in this process: starting the pool's interpreters would take longer.
_POOL_FROM_PERSONS: Final = 20_000


@dataclass(frozen=True)
class YearFile:
    municipality: str
    path: Path
    persons: int
    bytes: int


@dataclass(frozen=True)
class BenchYear:
    folder: Path
    files: list[YearFile]
    generation_s: float
    """How long generating it took (when it was generated, if it came from the cache)."""
    cached: bool
    """True when an earlier run's files were reused."""

    @property
    def persons(self) -> int:
        return sum(f.persons for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


def _write_one(municipality: str, year: int, persons: int, seed: int, path: Path) -> int:
    """One export, to a temporary name first: a file under its final name is always complete."""
    partial = path.with_suffix(".partial")
    _, written = generate_export(municipality, year, persons, seed, partial)
    partial.replace(path)
    return written


def bench_year(
    cache: Path, *, municipalities: int, persons: int, seed: int, year: int = YEAR, processes: int | None = None
) -> BenchYear:
    """The year for these arguments from ``cache``, generated there first if it is not (or only partly) there."""
    folder = cache / f"year-{year}-m{municipalities}-p{persons}-s{seed}"
    manifest = folder / _MANIFEST
    if manifest.exists():
        return _from_manifest(folder, json.loads(manifest.read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    plan = sorted(
        zip(bench_municipalities(municipalities), sizes(persons, municipalities), strict=True),
        key=lambda item: -item[1],
    )
    started = time.perf_counter()
    paths = [folder / f"{municipality}.xml" for municipality, _ in plan]
    if persons < _POOL_FROM_PERSONS:
        written = [_write_one(m, year, count, seed, path) for (m, count), path in zip(plan, paths, strict=True)]
    else:
        # spawn: a clean interpreter per worker, whatever threads the caller runs (a forked lock can hang).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes or os.cpu_count() or 1, mp_context=context) as pool:
            futures = [
                pool.submit(_write_one, m, year, count, seed, path)
                for (m, count), path in zip(plan, paths, strict=True)
            ]
            written = [future.result() for future in futures]
    files = []
    for (municipality, count), path, persons_written in zip(plan, paths, written, strict=True):
        if persons_written != count:
            raise RuntimeError(f"the generator wrote {persons_written} persons for {municipality}, not {count}")
        files.append(YearFile(municipality, path, count, path.stat().st_size))
    generation_s = time.perf_counter() - started
    document = {
        "year": year,
        "seed": seed,
        "generation_s": generation_s,
        "files": [{**asdict(f), "path": f.path.name} for f in files],
    }
    manifest.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return BenchYear(folder, files, generation_s, cached=False)


def _from_manifest(folder: Path, document: dict[str, object]) -> BenchYear:
    rows = document["files"]
    assert isinstance(rows, list)
    files = [YearFile(r["municipality"], folder / r["path"], int(r["persons"]), int(r["bytes"])) for r in rows]
    for f in files:
        if not f.path.is_file() or f.path.stat().st_size != f.bytes:
            raise RuntimeError(f"the cached year in {folder} lacks or changed {f.path.name}: remove the folder")
    generation_s = document["generation_s"]
    assert isinstance(generation_s, float | int)
    return BenchYear(folder, files, float(generation_s), cached=True)
