"""What a check of the audit logs found: what it checked, what is still in flight, and every discrepancy."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Report"]


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def fail(self, message: str) -> None:
        self.discrepancies.append(message)
