"""What the log answers (entries, checkpoints and proofs as documents) and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: The most entries, checkpoints or proofs one call returns; callers page on.
MAX_PAGE: Final = 1000


class AuditLogCorrupt(RuntimeError):
    """The stored log contradicts itself or a checkpoint it signed. The message names a row, never content."""


class AuditRangeError(ValueError):
    """An index, tree size or range outside the log (HTTP 400)."""


class AuditNotFound(LookupError):
    """No entry for this message id (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    entry: str
    """The canonical JSON exactly as stored: what the leaf hash was computed over."""
    leaf_hash: str

    def document(self) -> dict[str, Any]:
        return {"index": self.index, "entry": self.entry, "leaf_hash": self.leaf_hash}


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint row as stored, served unparsed so that an auditor sees exactly what the database holds."""

    body: str
    signature: str

    def document(self) -> dict[str, str]:
        return {"body": self.body, "signature": self.signature}


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    tree_size: int
    entry: str
    leaf_hash: str
    proof: tuple[bytes, ...]

    def document(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "entry": self.entry,
            "leaf_hash": self.leaf_hash,
            "proof": [p.hex() for p in self.proof],
        }
