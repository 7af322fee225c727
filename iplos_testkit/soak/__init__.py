"""Soak test: the chain under SIGKILL of processes of all three services, checked for lost, duplicated and partial
data.

:func:`run_soak` starts a fresh chain of the three services in its own state folder on free ports, each as
``workers`` real processes, submits synthetic exports (several municipalities and years, with resubmissions of
the same municipality-year, so the registry's replacement is exercised) through the gateway, as a client that
sends an upload again when the gateway dies before answering it (:func:`.run._submit`), and meanwhile

* a fault thread kills processes of the gateway, the TPF and the registry with SIGKILL at random moments
  (seeded): one worker process, which the service's manager starts again, or the whole service, which the
  thread starts again (``Chain.start`` waits for ``/readyz``): :mod:`.kills`;
* a watcher thread polls the registry (``GET /v1/submissions`` and ``GET /v1/submissions/{id}``) and reads its
  storage read-only, counting a *partial view* whenever an active submission shows a number of stored persons
  different from its record count, or a record count different from what was sent: :mod:`.watch`.

At the end it waits until every submission is final at the gateway, then checks that each one was stored
exactly once (:mod:`.verify`). ``iplos soak`` runs it; so does ``python -m iplos_testkit.soak --submissions N``.
"""

from iplos_testkit.soak.result import SoakResult
from iplos_testkit.soak.run import run_soak

__all__ = ["SoakResult", "run_soak"]
