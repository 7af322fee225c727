"""No single wrong file can erase or freeze a municipality's year, through the three real services.

Bergen (4601), reporting year 2021, which no other end-to-end test uses: an empty export, a year the register
does not take, the same file twice, and a resubmission with far fewer persons, which the registry holds until the
municipality confirms it at its gateway.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from iplos_chain import Chain, client
from shared.iplos.reporting_year import current_reporting_year

pytestmark = pytest.mark.e2e

MUNICIPALITY = "4601"
YEAR = 2021


def _registry(chain: Chain) -> list[dict]:  # type: ignore[type-arg]
    url = f"{chain.url('registry')}/v1/submissions?municipality={MUNICIPALITY}&year={YEAR}"
    return client.get_json(url, chain.operator_token)["submissions"]


def _gateway(chain: Chain) -> list[dict]:  # type: ignore[type-arg]
    url = f"{chain.url('gateway')}/v1/submissions?municipality={MUNICIPALITY}&year={YEAR}"
    return client.get_json(url, chain.municipality_token(MUNICIPALITY))["submissions"]


def _post(chain: Chain, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=body,
        headers={
            "Content-Type": "application/xml",
            "Authorization": f"Bearer {chain.municipality_token(MUNICIPALITY)}",
        },
        timeout=60,
    )


def _with_year(path: Path, year: int) -> bytes:
    text = path.read_text(encoding="utf-8")
    changed = re.sub(
        r"<rapporteringsaar>[0-9]{4}</rapporteringsaar>", f"<rapporteringsaar>{year}</rapporteringsaar>", text
    )
    assert changed != text
    return changed.encode()


def test_no_wrong_file_erases_the_year_and_a_real_drop_is_confirmed(chain: Chain, make_export) -> None:  # type: ignore[no-untyped-def]
    gateway, token = chain.url("gateway"), chain.municipality_token(MUNICIPALITY)
    full = make_export(MUNICIPALITY, 40, year=YEAR, seed=61)
    first = client.submit(full.path, gateway, token=token)
    assert client.wait_final(gateway, first["submission_id"], 60, token=token)["state"] == "stored"
    assert [(r["status"], r["records"]) for r in _registry(chain)] == [("active", 40)]

    # An empty export, a year not yet begun and one before the register's first year: refused at the gateway.
    empty = make_export(MUNICIPALITY, 0, year=YEAR, seed=62)
    answers = {
        "empty": _post(chain, empty.path.read_bytes()),
        "future": _post(chain, _with_year(full.path, current_reporting_year() + 1)),
        "before": _post(chain, _with_year(full.path, 2019)),
        # The same bytes again: recognised, nothing sent.
        "same": _post(chain, full.path.read_bytes()),
    }
    types = {name: (a.status_code, a.json()["type"].rsplit(":", 1)[1]) for name, a in answers.items()}
    assert types == {
        "empty": (422, "empty-export"),
        "future": (422, "reporting-year-out-of-range"),
        "before": (422, "reporting-year-out-of-range"),
        "same": (409, "identical-resubmission"),
    }
    assert answers["same"].json()["submission_id"] == first["submission_id"]
    assert [s["submission_id"] for s in _gateway(chain)] == [first["submission_id"]]  # nothing queued
    assert [(r["status"], r["records"]) for r in _registry(chain)] == [("active", 40)]  # nothing changed

    # Far fewer persons (10 of 40): held, the active year untouched, its report readable before deciding.
    cut = make_export(MUNICIPALITY, 10, year=YEAR, seed=63)
    second = client.submit(cut.path, gateway, token=token)
    held = client.wait_final(gateway, second["submission_id"], 60, token=token)
    assert held["state"] == "held"
    assert (held["receipt"]["status"], held["receipt"]["records_stored"], held["receipt"]["supersedes"]) == (
        "held",
        10,
        None,
    )
    rows = {r["submission_id"]: r for r in _registry(chain)}
    assert (rows[first["submission_id"]]["status"], rows[first["submission_id"]]["records"]) == ("active", 40)
    assert rows[second["submission_id"]]["status"] == "held"
    report = client.get_json(f"{gateway}/v1/submissions/{second['submission_id']}/report", token)
    assert report["submission_id"] == second["submission_id"]
    assert report["finding_count"] == len(report["findings"])
    # The same held file again is not a second held submission.
    assert _post(chain, cut.path.read_bytes()).json()["submission_id"] == second["submission_id"]

    # Another municipality cannot confirm it (it cannot even see it).
    other = httpx.post(
        f"{gateway}/v1/submissions/{second['submission_id']}/confirm-replacement",
        headers={"Authorization": f"Bearer {chain.municipality_token('0301')}"},
        timeout=30,
    )
    assert other.status_code == 404
    assert _registry(chain)[0]["status"] in {"active", "held"}

    # The municipality confirms: the registry applies it in one step, with a new signed receipt.
    body = client.post_json(f"{gateway}/v1/submissions/{second['submission_id']}/confirm-replacement", token)
    assert (body["state"], body["receipt"]["status"], body["receipt"]["supersedes"]) == (
        "stored",
        "stored",
        first["submission_id"],
    )
    rows = {r["submission_id"]: r for r in _registry(chain)}
    assert (rows[second["submission_id"]]["status"], rows[second["submission_id"]]["records"]) == ("active", 10)
    assert (rows[first["submission_id"]]["status"], rows[first["submission_id"]]["superseded_by"]) == (
        "superseded",
        second["submission_id"],
    )
    # Confirming again changes nothing.
    again = httpx.post(
        f"{gateway}/v1/submissions/{second['submission_id']}/confirm-replacement",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert (again.status_code, again.json()["type"].rsplit(":", 1)[1]) == (409, "not-held")
    assert dt.datetime.now(dt.UTC).year >= YEAR
