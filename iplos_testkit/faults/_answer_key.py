"""The answer key: which persons carry which control codes, and its JSON file."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from iplos_testkit.faults._kinds import FAULT_CODES, FaultKind

ANSWER_KEY_FORMAT = "iplos-answer-key/1"


@dataclass
class AnswerKey:
    """Which persons (by ``brukerNr``) carry which control codes, filled while the records stream.

    ``records`` maps ``brukerNr`` to its codes (one per faulted person), ``kinds`` to the fault kind.
    ``complete`` turns True when the iterator ``inject_faults`` returned is exhausted; ``to_json`` and
    ``write`` refuse an incomplete key."""

    year: int
    rate: float
    records: dict[str, list[str]] = field(default_factory=dict)
    kinds: dict[str, FaultKind] = field(default_factory=dict)
    complete: bool = False

    def add(self, bruker_nr: str, kind: FaultKind) -> None:
        if bruker_nr in self.records:
            raise ValueError("brukerNr repeats in the input; the answer key needs unique brukerNr")
        self.records[bruker_nr] = [FAULT_CODES[kind]]
        self.kinds[bruker_nr] = kind

    def counts(self) -> Counter[FaultKind]:
        """How many persons carry each kind."""
        return Counter(self.kinds.values())

    def to_json(self) -> str:
        if not self.complete:
            raise RuntimeError("the answer key is complete only once the fault iterator is exhausted")
        counts = self.counts()
        document = {
            "format": ANSWER_KEY_FORMAT,
            "rapporteringsaar": self.year,
            "rate": self.rate,
            "records": self.records,
            "kinds": {bruker_nr: kind.value for bruker_nr, kind in self.kinds.items()},
            "counts": {FAULT_CODES[kind]: counts[kind] for kind in FaultKind if counts[kind]},
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_json()`` to ``path`` (UTF-8)."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)


def write_answer_key(key: AnswerKey, path: str | os.PathLike[str]) -> None:
    """Write a complete answer key as JSON to ``path``."""
    key.write(path)
