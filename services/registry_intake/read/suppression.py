"""Small cells: a figure that counts persons is published only from :data:`SUPPRESSION_THRESHOLD` (5) up.

1-4 becomes ``None`` (shown as "<5", "skjult"); 0 stays 0 (no one to identify). :func:`suppress` is the one rule;
it applies to the records per service type, the findings by rule across municipalities (and their rates), the
records of a municipality in the overview and the year's total. A single submission's own counts (its page, as
in its signed receipt) are the delivery's facts and are shown as they are.

A table whose cells add up to figures a reader knows (the flows between years: a municipality's recipients are
continuing + new + moved in) needs more: :func:`suppress_table` adds complementary suppression, so that no hidden
cell is the total minus the shown ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Final, TypeVar

__all__ = ["SUPPRESSION_THRESHOLD", "suppress", "suppress_table"]

Cell = TypeVar("Cell", bound=Hashable)

SUPPRESSION_THRESHOLD: Final = 5


def suppress(persons: int, threshold: int = SUPPRESSION_THRESHOLD) -> int | None:
    """A count of persons as it may be shown: ``None`` (suppressed, "<5") when 1 to ``threshold - 1``.

    0 is shown (no one to identify), as is every count from ``threshold`` up."""
    if persons < 0:
        raise ValueError("a count of persons is not negative")
    return None if 0 < persons < threshold else persons


def suppress_table(
    cells: Mapping[Cell, int], groups: Iterable[Sequence[Cell]], threshold: int = SUPPRESSION_THRESHOLD
) -> dict[Cell, int | None]:
    """``cells`` as they may be shown: every count of 1 to ``threshold - 1`` suppressed (:func:`suppress`), and then
    as many more as it takes that none can be worked out from the others (complementary suppression).

    ``groups`` lists the cells that add up to a figure a reader knows or can estimate (a municipality's recipients
    in a year, say, or a national count and its municipalities'): a group with exactly one suppressed cell would give
    it away as the total minus the rest, so a second one of the group is suppressed too, the smallest count above
    zero (the least information lost), else the smallest. Repeated until no group has exactly one, since a cell
    suppressed for one group can leave another with one. Every cell a group names must be in ``cells``.
    """
    shown: dict[Cell, int | None] = {cell: suppress(count, threshold) for cell, count in cells.items()}
    groups = [list(group) for group in groups if len(group) > 1]  # one cell alone adds up to nothing else
    changed = True
    while changed:
        changed = False
        for group in groups:
            hidden = [cell for cell in group if shown[cell] is None]
            if len(hidden) != 1:
                continue
            candidates = [cell for cell in group if shown[cell] is not None]
            # The smallest count above zero, then the smallest; ties by the group's order (deterministic).
            partner = min(candidates, key=lambda cell: (cells[cell] == 0, cells[cell], group.index(cell)))
            shown[partner] = None
            changed = True
    return shown
