"""``iplos audit tpf-blindness``: an auditor's one-command evidence that the TPF cannot read the payload.

Three independent checks against a running chain and the state folder ``iplos up --state-dir`` wrote, one
module each:

1. **Key custody** (:mod:`.key_custody`, with :mod:`.key_candidates` and :mod:`.canary_envelope`): no secret the
   TPF holds opens a canary payload part sealed for the registry; the registry's own key does (positive control).
2. **Canary run** (:mod:`.canary_run`, with :mod:`.canaries`, :mod:`.search` and :mod:`.answers`): an export full
   of canaries goes through the chain; nothing the TPF wrote or answers holds one (plain, UTF-16, hex, base64 in
   every alignment), what the registry stored does; none of the export's identity numbers is at the registry,
   all of them are in the export file (positive control).
3. **Import contracts** (:mod:`.contracts`): ``lint-imports`` with the project's own contracts, each KEPT or BROKEN.

:mod:`.report` and :mod:`.markdown` write the report (Markdown and HTML) naming findings by file, offset, line and
the canary's or identity number's number in the canary export, never by value; :mod:`.run` runs it all.
"""

from iplos_audit.blindness.canaries import DEFAULT_PERSONS, DEFAULT_YEAR, Needle, canary, needle_forms
from iplos_audit.blindness.markdown import iter_report_sections
from iplos_audit.blindness.report import BlindnessReport
from iplos_audit.blindness.run import BlindnessUsageError, default_out_dir, run_blindness
from iplos_audit.blindness.search import search_bytes

__all__ = [
    "DEFAULT_PERSONS",
    "DEFAULT_YEAR",
    "BlindnessReport",
    "BlindnessUsageError",
    "Needle",
    "canary",
    "default_out_dir",
    "iter_report_sections",
    "needle_forms",
    "run_blindness",
    "search_bytes",
]
