"""``iplos validate``: offline, no keys, no service; every schema error with its line, path and a sentence, in
English or Norwegian; exit 0 for a file the gateway would take, 1 for one it would refuse; ``--json`` is JSON only.
The real command, in a process of its own with no chain running and no keys anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iplos_testkit.generator import generate_export
from iplos_testkit.schema_faults import SCHEMA_FAULTS, applicable_persons, spread_faults, with_faults


def _validate(*args: str, cwd: Path, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "IPLOS_"))} | {"LANG": lang}
    return subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", "validate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,  # an empty folder: no .state, no keys to find
        timeout=120,
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("validate") / "clean.xml"
    generate_export("5001", 2025, 200, 9, path)
    return path


def test_a_valid_export_exits_0_and_says_what_it_is(clean: Path, tmp_path: Path) -> None:
    result = _validate(str(clean), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid: 200 persons, municipality 5001, year 2025" in result.stdout
    assert not list(tmp_path.iterdir()), "validate wrote something"


def test_every_error_is_listed_with_line_and_path_and_the_count(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    placed = spread_faults(clean, bad, [fault.name for fault in SCHEMA_FAULTS])
    result = _validate(str(bad), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for fault in placed:
        assert any(
            line.startswith(f"line {fault.line}  iplosMelding/personer/person[{fault.person}]/") for line in lines
        )
    assert lines[-1].startswith(f"{len(placed)} errors in 200 persons read: the gateway would refuse the file")
    assert "Traceback" not in result.stderr


def test_norwegian_where_the_locale_is_and_on_request(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    spread_faults(clean, bad, ["no-such-day"])
    by_locale = _validate(str(bad), cwd=tmp_path, lang="nb_NO.UTF-8")
    asked = _validate(str(bad), "--lang", "nb", cwd=tmp_path)
    assert by_locale.stdout == asked.stdout
    assert "er ikke en gyldig dato: den dagen finnes ikke" in asked.stdout
    assert asked.stdout.splitlines()[-1].startswith("1 feil i 200 personer lest")
    assert "is not a real date" in _validate(str(bad), "--lang", "en", cwd=tmp_path, lang="nb_NO.UTF-8").stdout


def test_the_first_n_then_how_many_more(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "many.xml"
    placed = with_faults(clean, bad, [("yes-no", n) for n in applicable_persons(clean, "yes-no")])
    result = _validate(str(bad), "--show", "3", cwd=tmp_path)
    assert result.returncode == 1
    assert sum(line.startswith("line ") for line in result.stdout.splitlines()) == 3
    assert f"... and {len(placed) - 3} more ({len(placed)} in all)" in result.stdout


def test_json_is_json_only_and_says_the_same(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    placed = spread_faults(clean, bad, ["no-such-day", "fid-type", "no-bruker-nr"])
    result = _validate(str(bad), "--json", cwd=tmp_path)
    assert result.returncode == 1
    body = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert (body["valid"], body["error_count"], body["persons"], body["kommuneNr"]) == (False, 3, 200, "5001")
    assert [(e["line"], e["rule"], e["person"]) for e in body["errors"]] == [
        (f.line, f.fault.rule, f.person) for f in placed
    ]
    assert body["errors"][2]["brukerNr"] is None  # the fault took it away: the person is named by position


def test_a_wrong_language_is_a_usage_error(clean: Path, tmp_path: Path) -> None:
    result = _validate(str(clean), "--lang", "de", cwd=tmp_path)
    assert result.returncode == 2
    assert "--lang must be en or nb" in result.stderr
