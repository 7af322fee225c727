"""Small cells: a figure that counts persons is published only from :data:`SUPPRESSION_THRESHOLD` (5) up.

1-4 becomes ``None`` (shown as "<5", "skjult"); 0 stays 0 (no one to identify). :func:`suppress` is the one rule;
it applies to the records per service type, the findings by rule across municipalities (and their rates), the
records of a municipality in the overview and the year's total. A single submission's own counts (its page, as
in its signed receipt) are the delivery's facts and are shown as they are.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SUPPRESSION_THRESHOLD", "suppress"]

SUPPRESSION_THRESHOLD: Final = 5


def suppress(persons: int, threshold: int = SUPPRESSION_THRESHOLD) -> int | None:
    """A count of persons as it may be shown: ``None`` (suppressed, "<5") when 1 to ``threshold - 1``.

    0 is shown (no one to identify), as is every count from ``threshold`` up."""
    if persons < 0:
        raise ValueError("a count of persons is not negative")
    return None if 0 < persons < threshold else persons
