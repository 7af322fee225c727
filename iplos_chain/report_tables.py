"""Rich tables of a control report as the gateway serves it, for ``iplos report`` and the demo."""

from __future__ import annotations

from typing import Any

from rich.table import Table

__all__ = ["findings_table", "rules_table"]


def rules_table(counts: list[dict[str, Any]], title: str = "Findings by rule") -> Table:
    table = Table(title=title)
    for column in ("rule", "severity", "findings", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in counts:
        style = "red" if row["severity"] == "error" else "yellow"
        table.add_row(row["code"], f"[{style}]{row['severity']}[/{style}]", str(row["count"]), row["title"])
    return table


def findings_table(findings: list[dict[str, Any]], limit: int) -> Table:
    shown = findings[:limit]
    title = "Findings" + (f" (first {limit} of {len(findings)})" if len(findings) > limit else "")
    table = Table(title=title)
    for column in ("brukerNr", "rule", "severity", "where", "detail"):
        table.add_column(column)
    for f in shown:
        table.add_row(f["brukerNr"] or "(submission)", f["code"], f["severity"], f["field"] or "", f["detail"] or "")
    return table
