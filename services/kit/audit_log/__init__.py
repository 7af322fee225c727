"""A service's tamper-evident audit log: storage, signed checkpoints, proofs and read-only HTTP endpoints.

The log is an RFC 9162 Merkle tree over ``shared.audit`` entries, kept in two tables of the service's own
database:

* ``audit_log``: one row per entry; ``idx`` is the leaf index, ``entry`` the canonical JSON that was hashed,
  ``leaf_hash`` its leaf hash (hex), ``message_id`` and ``event`` copies for lookups.
* ``audit_checkpoints``: each signed checkpoint (``tree_size``, ``root_hash``, the signed ``body``, the
  signature in base64).

Indexes are gap-free: ``append`` assigns ``max(idx) + 1`` inside the caller's transaction while holding the
log's write lock (the SQLite write lock that ``BEGIN IMMEDIATE`` takes; ``LOCK TABLE audit_log IN EXCLUSIVE
MODE`` on PostgreSQL), so the entry commits or rolls back together with the state change it records, and the
next append cannot read the size until this one has committed. Committed rows are therefore always a prefix
0 .. n-1 of the log, which is what lets checkpoints and proofs be computed from committed rows alone.

``AuditLog`` keeps the verified tree in memory (``MerkleTree``). Whenever it reads rows it has not seen, it
recomputes each leaf hash from the entry text and checks it against the stored hash, and checks every stored
checkpoint's root against the tree; on any mismatch it raises ``AuditLogCorrupt`` and refuses to sign: a log
never signs a checkpoint that contradicts one it signed before. ``verify_stored`` repeats the whole check from
scratch. An auditor does not rely on either: it verifies what the endpoints serve (``shared.audit.verify``).

Modules: ``_log`` (``AuditLog``: append, sign, read), ``_verified`` (the check of stored rows and checkpoints),
``_endpoints`` (the HTTP router), ``_tables`` and ``_results``.
"""

from services.kit.audit_log._endpoints import audit_router
from services.kit.audit_log._log import AuditLog
from services.kit.audit_log._results import (
    MAX_PAGE,
    AuditLogCorrupt,
    AuditNotFound,
    AuditRangeError,
    InclusionProof,
    StoredCheckpoint,
    StoredEntry,
)
from services.kit.audit_log._tables import AUDIT_CHECKPOINTS, AUDIT_LOG, AuditTables, audit_tables

__all__ = [
    "AUDIT_CHECKPOINTS",
    "AUDIT_LOG",
    "MAX_PAGE",
    "AuditLog",
    "AuditLogCorrupt",
    "AuditNotFound",
    "AuditRangeError",
    "AuditTables",
    "InclusionProof",
    "StoredCheckpoint",
    "StoredEntry",
    "audit_router",
    "audit_tables",
]
