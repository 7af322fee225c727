"""The auditor's side: check what a log serves (entries, inclusion and consistency proofs) against checkpoints
already verified with ``verify_checkpoint``. Wire forms are those of ``services.kit.audit_log``'s endpoints.

Every failure raises ``InvalidAuditData``: ``malformed`` for an answer of the wrong shape, ``proof-failed`` for
a well-formed answer that does not prove what it should (a tampered entry, a forked or rewritten log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from shared.audit.entries import AuditEntry, Checkpoint, InvalidAuditData, parse_entry
from shared.audit.merkle import MerkleAccumulator, leaf_hash, verify_consistency, verify_inclusion

_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")
# A proof never has more elements than the tree has levels (2^63 leaves); more is not worth parsing.
MAX_PROOF_LENGTH: Final = 64


def _proof(value: object) -> list[bytes]:
    if not isinstance(value, list) or len(value) > MAX_PROOF_LENGTH:
        raise InvalidAuditData("malformed", "a proof is a list of hashes")
    if not all(isinstance(item, str) and _HEX_HASH.fullmatch(item) for item in value):
        raise InvalidAuditData("malformed", "a proof element is not 64 lower-case hex digits")
    return [bytes.fromhex(item) for item in value]


def _size(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidAuditData("malformed", f"{name} is not a non-negative integer")
    return value


def _entry_bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidAuditData("malformed", "an entry is served as its canonical JSON text")
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidAuditData("malformed", "an entry's canonical JSON is ASCII") from None


def verify_inclusion_document(document: object, checkpoint: Checkpoint) -> AuditEntry:
    """Check one inclusion-proof answer ``{"index", "tree_size", "entry", "leaf_hash", "proof"}`` against a
    verified checkpoint of the same tree size, and return the entry it proves.

    The leaf hash is recomputed from the entry text: the served ``leaf_hash`` is only compared, never trusted.
    """
    if not isinstance(document, dict):
        raise InvalidAuditData("malformed", "an inclusion proof is an object")
    index = _size(document.get("index"), "index")
    tree_size = _size(document.get("tree_size"), "tree_size")
    if tree_size != checkpoint.tree_size:
        raise InvalidAuditData("malformed", "the proof is for another tree size than the checkpoint")
    data = _entry_bytes(document.get("entry"))
    entry = parse_entry(data)
    if entry.index != index:
        raise InvalidAuditData("proof-failed", "the entry's own index is not the index it is served at")
    leaf = leaf_hash(data)
    if document.get("leaf_hash") != leaf.hex():
        raise InvalidAuditData("proof-failed", "the entry does not hash to the leaf hash served with it")
    if not verify_inclusion(leaf, index, tree_size, _proof(document.get("proof")), checkpoint.root):
        raise InvalidAuditData("proof-failed", "the inclusion proof does not lead to the checkpoint's root")
    return entry


def verify_consistency_document(document: object, first: Checkpoint, second: Checkpoint) -> None:
    """Check a consistency-proof answer ``{"first", "second", "proof"}``: the log of ``second`` extends the log
    of ``first`` without changing any of its entries."""
    if not isinstance(document, dict):
        raise InvalidAuditData("malformed", "a consistency proof is an object")
    if (_size(document.get("first"), "first"), _size(document.get("second"), "second")) != (
        first.tree_size,
        second.tree_size,
    ):
        raise InvalidAuditData("malformed", "the proof is for other tree sizes than the checkpoints")
    if first.log != second.log:
        raise InvalidAuditData("malformed", "the checkpoints belong to different logs")
    proof = _proof(document.get("proof"))
    if not verify_consistency(first.tree_size, second.tree_size, first.root, second.root, proof):
        raise InvalidAuditData("proof-failed", "the consistency proof does not join the two checkpoints")


def verify_entries(entry_texts: Iterable[str], checkpoint: Checkpoint) -> list[AuditEntry]:
    """Replay a whole log, entries 0 .. tree_size - 1 in order, and check it against the checkpoint's root.

    The strongest check an auditor can make: every entry is read, each index appears once and in order, and
    the tree they build is exactly the one the log signed.
    """
    accumulator = MerkleAccumulator()
    entries: list[AuditEntry] = []
    for text in entry_texts:
        data = _entry_bytes(text)
        entry = parse_entry(data)
        if entry.index != accumulator.size:
            raise InvalidAuditData("proof-failed", "the entries are not numbered 0, 1, 2, ... in order")
        accumulator.append(leaf_hash(data))
        entries.append(entry)
    if accumulator.size != checkpoint.tree_size:
        raise InvalidAuditData("proof-failed", "the number of entries is not the checkpoint's tree size")
    if accumulator.root() != checkpoint.root:
        raise InvalidAuditData("proof-failed", "the entries do not hash to the checkpoint's root")
    return entries
