"""The soak's watcher thread: poll the registry's API and its storage, and count every partial view."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from sqlalchemy.exc import SQLAlchemyError

from iplos_chain import Chain, client
from iplos_testkit.soak.databases import registry_database_url
from iplos_testkit.soak.registry_storage import RegistryStorage
from iplos_testkit.soak.result import RunState, SoakResult

__all__ = ["registry_database", "watch"]


def registry_database(chain: Chain) -> Path | str:
    """The registry's database: its PostgreSQL URL, or its SQLite file (its state folder's default)."""
    return registry_database_url(chain) or chain.state_dir / "registry" / "registry.db"


def watch(chain: Chain, state: RunState, result: SoakResult) -> None:
    """Poll the registry's API and storage until told to stop, then once more."""
    registry = chain.url("registry")
    headers = {"Authorization": f"Bearer {chain.operator_token}"}
    http_client = httpx.Client(timeout=5.0, headers=headers, verify=chain.verify)
    with http_client as http, RegistryStorage(registry_database(chain)) as storage:
        while not state.stop.is_set():
            _poll_once(http, registry, storage, state, result)
            time.sleep(0.05)
        _poll_once(http, registry, storage, state, result)


def _get(http: httpx.Client, url: str, state: RunState) -> httpx.Response:
    """GET as a polite client: the watcher asks far faster than the registry takes from one caller, and when
    refused for it waits as Retry-After says (the soak ends the wait) and asks again. Without that it would empty
    the caller's allowance, which the operator's other calls from this address share."""
    while True:
        response = http.get(url)
        wait_s = client.refused_at_the_door(response)
        if wait_s is None or state.stop.wait(wait_s):
            return response


def _partial(state: RunState, result: SoakResult, detail: str) -> None:
    with state.lock:
        result.partial_views += 1
        if len(result.partial_details) < 50:
            result.partial_details.append(detail)


def _poll_once(
    http: httpx.Client, registry: str, storage: RegistryStorage, state: RunState, result: SoakResult
) -> None:
    with state.lock:
        result.polls += 1
        expected = dict(state.expected_records)
    # The API: an active submission shows the record count that was sent, in the list and on its own.
    try:
        rows = _get(http, f"{registry}/v1/submissions", state).json()["submissions"]
        for row in rows:
            if row["status"] != "active":
                continue
            sid = row["submission_id"]
            if sid in expected and row["records"] != expected[sid]:
                _partial(state, result, f"api list: {sid} active with {row['records']} of {expected[sid]} records")
            one = _get(http, f"{registry}/v1/submissions/{sid}", state)
            if one.status_code == 200 and one.json()["status"] == "active" and one.json()["records"] != row["records"]:
                _partial(state, result, f"api item: {sid} records {one.json()['records']} != {row['records']}")
        with state.lock:
            result.api_reads += 1
    except (httpx.HTTPError, ValueError, KeyError):
        pass  # the registry is down or restarting
    # The storage itself, read-only: persons stored for each active submission.
    try:
        found = storage.active()
    except SQLAlchemyError:
        return  # a read that fails (the file locked past the timeout, or not there yet) is no view
    with state.lock:
        result.db_reads += 1
    for view in found:
        sid, stored = view.submission_id, view.persons
        if stored != view.record_count or (sid in expected and stored != expected[sid]):
            _partial(
                state, result, f"database: {sid} active, {stored} persons stored, record_count {view.record_count}"
            )
