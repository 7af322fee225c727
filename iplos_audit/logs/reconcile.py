"""The three logs reconciled message by message.

The gateway sealed it, the TPF pseudonymised exactly what was sealed (same digests, same record count), the
registry stored exactly what the TPF forwarded, and the counts add up (records sent = pseudonymised + refused =
stored). And the other way round: nothing reached the registry that the TPF did not pseudonymise, nothing
reached the TPF for this gateway's municipalities that the gateway did not seal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from iplos_audit.logs.read import LogView
from iplos_audit.logs.report import Report
from shared.audit import AuditEntry

__all__ = ["reconcile"]


def _by_message(entries: Iterable[AuditEntry]) -> dict[str, list[AuditEntry]]:
    grouped: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.message_id].append(entry)
    return grouped


def _last(entries: list[AuditEntry], event: str) -> AuditEntry | None:
    found = [e for e in entries if e.event == event]
    return found[-1] if found else None


def _same(report: Report, message_id: str, what: str, facts: list[tuple[str, object, object]]) -> None:
    for name, left, right in facts:
        if left != right:
            report.fail(f"{message_id}: {what}: {name} differs ({left} vs {right})")


def reconcile(views: dict[str, LogView], report: Report) -> None:
    gateway = _by_message(views["gateway"].entries)
    tpf = _by_message(views["tpf"].entries)
    registry = _by_message(views["registry"].entries)
    served = {e.facts.get("municipality") for entries in gateway.values() for e in entries if e.event == "sealed"} | {
        views["gateway"].checkpoint.log.removeprefix("kommune-")
    }
    totals: defaultdict[str, int] = defaultdict(int)
    for message_id, entries in gateway.items():
        sealed = [e for e in entries if e.event == "sealed"]
        if len(sealed) != 1:
            report.fail(f"{message_id}: the gateway's log has {len(sealed)} 'sealed' entries (one expected)")
            continue
        facts = sealed[0].facts
        settled = _last(entries, "settled")
        pseudonymised = _last(tpf.get(message_id, []), "pseudonymised")
        for entry in (e for e in tpf.get(message_id, []) if e.event == "pseudonymised"):
            _same(
                report,
                message_id,
                "TPF pseudonymised something else than the gateway sealed",
                [(k, facts.get(k), entry.facts.get(k)) for k in ("submission_sha256", "identity_sha256", "records")],
            )
        if settled is None or settled.facts.get("outcome") not in ("stored", "refused"):
            state = "in flight" if settled is None else str(settled.facts.get("outcome"))
            report.in_flight.append(f"{message_id} ({facts.get('municipality')}-{facts.get('year')}): {state}")
            continue
        if pseudonymised is None:
            report.fail(f"{message_id}: the gateway holds a receipt, the TPF's log has no 'pseudonymised' entry")
            continue
        forwarded = _last(tpf.get(message_id, []), "forwarded")
        if forwarded is None or forwarded.facts.get("outcome") != "delivered":
            report.fail(f"{message_id}: the gateway holds a receipt, the TPF's log has no delivery to the registry")
        counts = pseudonymised.facts
        if counts.get("pseudonymised", 0) + counts.get("refused", 0) != counts.get("records"):  # type: ignore[operator]
            report.fail(f"{message_id}: the TPF's pseudonymised + refused is not its record count")
        outcome = settled.facts.get("outcome")
        at_registry = registry.get(message_id, [])
        stored = _last(at_registry, "stored")
        if outcome == "stored":
            if stored is None:
                report.fail(f"{message_id}: the gateway holds a 'stored' receipt, the registry's log has no 'stored'")
                continue
            _same(
                report,
                message_id,
                "the registry stored something else than the TPF forwarded",
                [
                    (k, counts.get(k), stored.facts.get(k))
                    for k in (
                        "submission_sha256",
                        "payload_sha256",
                        "pseudonyms_sha256",
                        "delivery_sha256",
                        "records",
                        "pseudonymised",
                        "refused",
                    )
                ],
            )
            totals["messages"] += 1
            totals["sent"] += int(facts.get("records") or 0)
            totals["pseudonymised"] += int(counts.get("pseudonymised") or 0)
            totals["refused"] += int(counts.get("refused") or 0)
            totals["stored"] += int(stored.facts.get("records") or 0)
        else:
            refused = _last(at_registry, "refused")
            if refused is None or stored is not None:
                report.fail(f"{message_id}: the gateway holds a 'refused' receipt, the registry's log disagrees")
    # The other direction: nothing reached the registry that the TPF did not pseudonymise, and nothing reached the
    # TPF for this gateway's municipalities that the gateway did not seal.
    for message_id, entries in registry.items():
        stored = _last(entries, "stored")
        if stored is not None and _last(tpf.get(message_id, []), "pseudonymised") is None:
            report.fail(f"{message_id}: the registry stored a message the TPF's log never pseudonymised")
        superseded = _last(entries, "superseded")
        if superseded is not None and stored is None:
            report.fail(f"{message_id}: the registry superseded a message its log never stored")
    for message_id, entries in tpf.items():
        pseudonymised = _last(entries, "pseudonymised")
        if (
            pseudonymised is not None
            and pseudonymised.facts.get("municipality") in served
            and message_id not in gateway
        ):
            report.fail(f"{message_id}: the TPF pseudonymised a message the gateway's log never sealed")
    report.checked.append(
        f"reconciled {totals['messages']} stored messages across the three logs: records sent {totals['sent']}"
        f" = pseudonymised {totals['pseudonymised']} + refused {totals['refused']}"
        f" = stored {totals['stored']}"
    )
    if totals["sent"] != totals["pseudonymised"] + totals["refused"] or totals["sent"] != totals["stored"]:
        report.fail("the record counts do not add up across the three logs")
