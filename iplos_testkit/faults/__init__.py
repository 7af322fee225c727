"""Fault injection for synthetic IPLOS data, with an answer key for the logical controls.

``inject_faults`` wraps a stream of clean ``PersonRecord``s (the generator's) and mutates some of them so that
each mutated person carries exactly ONE known fault kind, which the logical controls (``shared.iplos.controls``)
must report as exactly one control code on that person and nothing else. The ``AnswerKey`` says which persons
(by ``brukerNr``) carry which code; it is complete when the returned iterator is exhausted.

Choices, and why:

* **Which persons: systematic sampling at ``rate``.** Person ``i`` (0-based, stream order) is due a fault when
  ``floor((i + 1) * rate + u) > floor(i * rate + u)``, with one offset ``u`` drawn from ``rng``. Every person
  has probability exactly ``rate`` of being due, the faults are spread evenly, and ``n`` persons carry
  ``round(n * rate)`` faults give or take one, with no variance to make small test inputs flaky.
* **Which kind: round robin.** The kinds are shuffled once (by ``rng``) and applied in turn, so every kind
  occurs as soon as ``len(kinds)`` faults have been injected (``n >= len(kinds) / rate`` persons), and each
  occurs ``n * rate / len(kinds)`` times give or take one. If the person due a fault cannot take the current
  kind (e.g. a two-record fault before any clean person was seen), the fault stays due and goes to the next
  person. One person never carries two faults.
* **Two-record faults report the second record.** The controls report the second and later occurrence in
  submission order, so ``duplicate-person`` gives the faulted person the identity number (and type) of an
  earlier clean person (the *donor*), and ``duplicate-service-id`` appends a copy of a donor's service to the
  faulted person; the answer key names the faulted person only. A donor is used once per kind and is never
  faulted. ``conflicting-decisions`` needs no donor: it appends a second line of one of the person's own
  services with the same tjenesteID and an earlier decision date (the first line stays clean).
* **Faults add what they need.** A kind that needs an element the person lacks (an hour-based service, a
  complaint, a coercion decision) adds a clean one that carries the fault, so nearly any person can take any
  kind (not, say, a service after the death date for a person whose services all start on 31 December).
* **RNG.** Only ``rng`` is used; pass a stream separate from the generator's (e.g. ``random.Random(f"{key}:faults")``)
  so that the same seed gives the same base persons whatever the rate. With ``rate == 0`` the records pass
  through unchanged.
* **Synthetic numbers only.** New identity numbers are Tenor-style (month + 80, ``shared.fnr.synthetic_for``);
  the ``identity-refused`` fault breaks the last check digit of the person's own synthetic number.

Every record-level control judged on the payload (K005-K031) has a kind (``PAYLOAD_KINDS``, the default), and so
has every business register control (K036-K039, ``BUSINESS_KINDS``, asked for by name: the registry finds them only
with its copy of Enhetsregisteret loaded; ``iplos_testkit.business_register`` is the synthetic extract they are
judged against). Not injected here:

* the register controls (K032-K035), judged against the population register: ``iplos_testkit.population`` injects
  those, with the register extracts they are judged against;

* the submission-level controls (K001-K004: kommuneNr and bydelNr of the header): they are about the message
  header, not a person, so an answer key by ``brukerNr`` cannot name them (``tests/shared/test_controls.py``
  covers them);
* the closed vocabularies (event type, legal basis of coercion, complaint outcome): a value outside them is a
  schema error that refuses the whole export, not a content finding, and the payload codec cannot carry it.

Every injected value stays valid for the export's schema (``tests/testkit/test_faults.py`` writes, validates and
reads back a faulted export), so the faults reach the registry's controls.

Modules, in reading order: ``_inject`` (``inject_faults``: the choices above), ``_kinds``, ``_answer_key``,
``_injector`` (the state and helpers the faults share), and the faults by what they break: ``_identity``,
``_background`` (dates and background), ``_scores``, ``_services``, ``_decisions`` (refusals, complaints,
coercion), ``_business`` (the units that performed services).
"""

from iplos_testkit.faults._answer_key import ANSWER_KEY_FORMAT, AnswerKey, write_answer_key
from iplos_testkit.faults._inject import inject_faults
from iplos_testkit.faults._kinds import BUSINESS_KINDS, FAULT_CODES, PAYLOAD_KINDS, FaultKind

__all__ = [
    "ANSWER_KEY_FORMAT",
    "BUSINESS_KINDS",
    "FAULT_CODES",
    "PAYLOAD_KINDS",
    "AnswerKey",
    "FaultKind",
    "inject_faults",
    "write_answer_key",
]
