"""The test kit: synthetic IPLOS exports and known faults, for tests, the demo, the soak and the auditor's canary.

Not product code: no service imports it (an import contract says so). It writes exports that validate against
the project's XSD (``writer``), makes synthetic persons with synthetic identity numbers only (``generator``, Tenor
form: month + 80), gives chosen persons one known fault each with an answer key (``faults``), and writes both in
one call (``exports``). It also holds the two scenarios that drive a fresh local chain (:mod:`iplos_chain`) with
them: the demo (``demo``, ``iplos demo``) and the soak under SIGKILL (``soak``, ``iplos soak``).
"""

from iplos_testkit.generator import generate_export, generate_records, opaque_id
from iplos_testkit.writer import ExportTarget, ExportWriter, write_export

__all__ = [
    "ExportTarget",
    "ExportWriter",
    "generate_export",
    "generate_records",
    "opaque_id",
    "write_export",
]
