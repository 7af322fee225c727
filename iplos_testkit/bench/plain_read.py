"""The yardstick: one plain lxml read of the year's files, as issue 13 defines it.

``iterparse`` on each person's end, every element with text under it into a dict (its local name to its text),
then the person cleared and its earlier siblings dropped, so memory stays flat however large the file. No
validation, no conversion, nothing written: the least any reader of the export must do (the same loop as the
baseline's /work/wt/profiles/plain.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

__all__ = ["plain_read", "plain_read_file"]


def plain_read_file(path: Path) -> int:
    """Read one export plainly; the number of persons in it."""
    persons = 0
    for _, element in etree.iterparse(str(path), events=("end",), tag="{*}person"):
        fields = {}
        for child in element.iter():
            if child.text and child.text.strip():
                fields[etree.QName(child).localname] = child.text
        persons += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return persons


def plain_read(paths: Iterable[Path]) -> tuple[int, float, float]:
    """Persons read, seconds taken and CPU seconds spent for all of ``paths``, one after the other (call it
    with no other thread of this process busy: the CPU time is the process's)."""
    started, cpu = time.perf_counter(), time.process_time()
    persons = sum(plain_read_file(path) for path in paths)
    return persons, time.perf_counter() - started, time.process_time() - cpu
