"""``iplos bench`` run small: a tiny year through the three real services on SQLite, its JSON checked.

Not a timed test: the figures are only checked for being there and consistent with each other. The national
year takes minutes (docs/performance.md); this runs 3 municipalities of 300 persons in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iplos_cli.main import app
from iplos_testkit.bench import oslo_persons
from iplos_testkit.bench.sizes import (
    MIN_PERSONS,
    NATIONAL_MUNICIPALITIES,
    NATIONAL_PERSONS,
    bench_municipalities,
    sizes,
)
from iplos_testkit.bench.year import bench_year


def test_a_national_year_is_zipf_shaped_with_oslo_about_a_tenth() -> None:
    counts = sizes(NATIONAL_PERSONS, NATIONAL_MUNICIPALITIES)
    assert sum(counts) == NATIONAL_PERSONS
    assert 0.09 < counts[0] / NATIONAL_PERSONS < 0.11
    assert oslo_persons() == counts[0]
    assert min(counts) >= MIN_PERSONS
    assert counts[0] > counts[1] > counts[10] > counts[-1]
    codes = bench_municipalities(NATIONAL_MUNICIPALITIES)
    assert codes[0] == "0301"
    assert len(set(codes)) == NATIONAL_MUNICIPALITIES


@pytest.mark.parametrize(("total", "count"), [(300, 3), (10, 3), (7, 7), (1, 1), (100_003, 40)])
def test_sizes_sum_exactly_and_give_everyone_someone(total: int, count: int) -> None:
    counts = sizes(total, count)
    assert sum(counts) == total
    assert len(counts) == count
    assert min(counts) >= 1


def test_a_year_is_generated_once_then_reused(tmp_path: Path) -> None:
    first = bench_year(tmp_path, municipalities=2, persons=20, seed=3)
    second = bench_year(tmp_path, municipalities=2, persons=20, seed=3)
    assert not first.cached
    assert second.cached
    assert second.files == first.files
    assert second.persons == 20
    assert [f.municipality for f in first.files] == ["0301", "1101"]
    assert bench_year(tmp_path, municipalities=2, persons=20, seed=4).folder != first.folder


@pytest.mark.e2e
def test_bench_runs_a_small_year_through_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    arguments = ["bench", "--municipalities", "3", "--persons", "300", "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, [*arguments, "--json", str(out), "--poll", "0.1"])
    assert result.exit_code == 0, result.output

    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["files"] == 3
    assert figures["persons"] == 300
    assert figures["states"] == {"stored": 3}
    assert figures["records_accepted"] == figures["records_stored"] == figures["plain_read_persons"] == 300
    assert figures["bytes"] > 0
    assert figures["plain_read_s"] > 0
    assert figures["wall_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["wall_s"] / figures["plain_read_s"])
    assert figures["persons_per_s"] == pytest.approx(300 / figures["wall_s"])
    assert set(figures["services"]) == {"gateway", "tpf", "registry"}
    for name, service in figures["services"].items():
        assert service["cpu_s"] >= 0, name
        assert service["peak"]["hwm_mb"] > 0, name
        assert service["peak"]["pid"] in [p["pid"] for p in service["processes"]], name
    assert figures["cpu_s_total"] > 0
    assert figures["cpu_s_total"] == pytest.approx(sum(s["cpu_s"] for s in figures["services"].values()))
    assert figures["plain_read_cpu_s"] > 0
    assert figures["cpu_ratio"] == pytest.approx(figures["cpu_s_total"] / figures["plain_read_cpu_s"])
    assert figures["client_cpu_s"] >= 0
    seal = figures["services"]["gateway"]["stages"]["seal"]
    assert seal["count"] == 3
    assert seal["seconds"] > 0
    assert figures["machine"]["cores"] >= 1
    assert "iplos bench" in result.output
    assert "ratio to the plain read" in result.output
