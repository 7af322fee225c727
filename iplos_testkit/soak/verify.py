"""The soak's final check: every accepted submission settled exactly once, the newest of each year active, all
its records there once."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from iplos_chain import Chain, client
from iplos_testkit.soak.registry_storage import RegistryStorage
from iplos_testkit.soak.result import Sent, SoakResult
from iplos_testkit.soak.watch import registry_database
from shared.envelope import InvalidEnvelope, MessageRefused
from shared.envelope.receipts import verify_receipt
from shared.keys import PublicDirectory

__all__ = ["SETTLED_STATES", "verify"]

SETTLED_STATES = frozenset({"stored", "refused"})


def verify(chain: Chain, sent: list[Sent], gateway_rows: dict[str, dict[str, Any]], result: SoakResult) -> None:
    """Every accepted submission settled exactly once, the newest of each year active, all records there once."""
    directory = PublicDirectory.load(chain.state_dir / "keys" / "directory.json")
    registry_url = f"{chain.url('registry')}/v1/submissions"
    registry_rows = client.get_json(registry_url, chain.operator_token, verify=chain.verify)["submissions"]
    by_id: dict[str, dict[str, Any]] = {}
    id_counts = Counter(row["submission_id"] for row in registry_rows)
    for sid, count in id_counts.items():
        if count > 1:
            result.duplicated.append(f"{sid}: {count} rows at the registry")
        by_id[sid] = next(row for row in registry_rows if row["submission_id"] == sid)
    sent_ids = {s.submission_id for s in sent}
    for sid in set(by_id) - sent_ids:
        result.problems.append(f"{sid}: at the registry but never sent")
    for sid in set(gateway_rows) - sent_ids:
        # The soak follows each export to one submission; another one at the gateway is an upload sent again
        # (the gateway died before it answered) that the gateway took a second time.
        result.duplicated.append(f"{sid}: a second submission at the gateway of an export sent again")

    with RegistryStorage(registry_database(chain), busy_timeout_s=10.0) as storage:
        stored_ids = Counter(row.message_id for row in storage.submissions())
        persons = {sid: storage.persons(sid) for sid in sent_ids}
    for sid, count in stored_ids.items():
        if count > 1:
            result.duplicated.append(f"{sid}: {count} rows in the registry's database")

    for s in sent:
        _check_one(chain, s, gateway_rows.get(s.submission_id), by_id.get(s.submission_id), persons, directory, result)
    _check_newest_active(sent, registry_rows, result)


def _check_one(
    chain: Chain,
    s: Sent,
    row: dict[str, Any] | None,
    at_registry: dict[str, Any] | None,
    persons: dict[str, int],
    directory: PublicDirectory,
    result: SoakResult,
) -> None:
    """One submission: settled at the gateway with a receipt the registry signed, and stored as the receipt says."""
    state = row["state"] if row else "missing"
    result.max_attempts = max(result.max_attempts, int(row["attempts"]) if row else 0)
    if row and int(row["attempts"]) > 1:
        result.multi_attempt += 1
    if row is None or state not in SETTLED_STATES or at_registry is None:
        result.lost.append(
            f"{s.submission_id} ({s.municipality}-{s.year} seq {s.sequence}): gateway {state}"
            f" ({row.get('last_error') if row else None}), registry"
            f" {at_registry['status'] if at_registry else 'missing'}"
        )
        return
    header = chain.state_dir / "gateway" / "outbox" / s.submission_id / "header.json"
    try:
        receipt = verify_receipt(
            directory,
            {"receipt": row["receipt"], "signature": row["receipt_signature"]},
            s.submission_id,
            hashlib.sha256(header.read_bytes()).hexdigest(),
        )
    except (InvalidEnvelope, MessageRefused, OSError) as exc:
        result.lost.append(f"{s.submission_id}: {state} without a verified receipt ({type(exc).__name__})")
        return
    if state == "stored":
        result.stored += 1
        if receipt.status != "stored" or at_registry["status"] not in ("active", "superseded"):
            result.problems.append(f"{s.submission_id}: gateway stored, registry {at_registry['status']}")
        elif receipt.records_stored != s.records or at_registry["records"] != s.records:
            result.problems.append(
                f"{s.submission_id}: {s.records} sent, receipt {receipt.records_stored},"
                f" registry {at_registry['records']}"
            )
    else:
        result.refused_stale += 1
        if receipt.reason != "stale-sequence" or at_registry["status"] != "refused":
            result.problems.append(f"{s.submission_id}: refused ({receipt.reason}), registry {at_registry['status']}")
    stored_persons = persons.get(s.submission_id, 0)
    if at_registry["status"] == "active":
        # More person rows than records sent is a record stored twice (the rows' key is the submission and the
        # record's reference, so the registry's schema already refuses the same record twice).
        if stored_persons > s.records:
            result.duplicated.append(f"{s.submission_id}: {stored_persons} persons stored of {s.records} sent")
        elif stored_persons != s.records:
            result.problems.append(f"{s.submission_id}: active with {stored_persons} of {s.records} persons")
    elif stored_persons:
        result.duplicated.append(
            f"{s.submission_id}: {at_registry['status']} but {stored_persons} persons still stored"
        )


def _check_newest_active(sent: list[Sent], registry_rows: list[dict[str, Any]], result: SoakResult) -> None:
    newest: dict[tuple[str, int], Sent] = {}
    for s in sent:
        key = (s.municipality, s.year)
        if key not in newest or s.sequence > newest[key].sequence:
            newest[key] = s
    for (municipality, year), s in sorted(newest.items()):
        active = [
            r["submission_id"]
            for r in registry_rows
            if (r["municipality"], r["year"], r["status"]) == (municipality, year, "active")
        ]
        if active != [s.submission_id]:
            result.problems.append(
                f"{municipality}-{year}: active {active}, expected the newest {s.submission_id} (seq {s.sequence})"
            )
