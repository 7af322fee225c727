"""The auditor's tools: evidence about a running chain, gathered from the outside.

Tooling, not product: no service imports it (an import contract says so).

* :mod:`iplos_audit.blindness`: can the TPF read the payload? Key custody, a canary run, the import contracts
  (``iplos audit tpf-blindness``).
* :mod:`iplos_audit.logs`: has anyone rewritten history? The three services' audit logs verified and reconciled
  message by message (``iplos audit verify``), and one message's path with inclusion proofs (``iplos audit prove``).
"""
