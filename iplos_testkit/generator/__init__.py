"""Synthetic IPLOS exports: realistic enough to exercise the chain, deterministic for a seed.

Only synthetic identity numbers are ever produced (``shared.fnr.synthetic_for``: Skatteetaten's Tenor form,
month + 80), so no generated file can contain a real person's number.

What "realistic" means here (from the IPLOS statistics the design notes describe):

* Recipients are mostly old: about three in four are 67 or over, their ages skewed towards 80-90 and mostly
  women; the younger ones are people with disabilities or mental illness, with a different service mix
  (user-controlled personal assistance, support contact, respite, care allowance, a municipal dwelling).
* A latent "need" drives everything: it rises with age, raises the 17 function scores (1 no problems ...
  5 full need; 9 "not relevant" now and then) and the number and weight of services. The oldest with the
  highest need live in a nursing home (21 langtidsopphold), and their home services end when the stay starts.
* Dementia diagnoses push memory, behaviour and decision scores up; diagnoses come from a short list of
  common ICPC-2 (GP) and ICD-10 (hospital) codes.
* Services overlap the reporting year: some started years before and are ongoing, some start and end in it;
  short stays last days or weeks. Hours per week only for hour-based services, in 0.5-hour steps.
  Organisation numbers are the municipality's units in the synthetic Enhetsregisteret
  (``iplos_testkit.business_register``: valid mod 11, health or care units of the municipality, the same every
  year), none for GPS (26) and dwellings (29).
  Application, decision and start follow each other; most lines are original reports (event N), a few are
  corrections (M, T).
* Background: nursing-home residents live in an institution (housing 3), home-service users in an ordinary
  dwelling or a care home, users of a municipal dwelling (29) in a care home; the elderly often live alone;
  unpaid help from family is common for home-service users and children; assisted communication is rare
  (more common with developmental disabilities, autism, cerebral palsy); most long-term residents were seen
  by a doctor and a dentist during the year; some younger users have an individual plan.
* A few per cent die during the year, mostly the oldest and long-term residents: no service of theirs starts
  after the death date and every one ends by it, and nothing else is dated after it.
* Refusals and complaints for a few per cent (a complaint usually follows a refusal); coercion decisions only
  for users of the coercion services (14 and 23 under helse- og omsorgstjenesteloven kap. 9, for persons with
  a developmental disability; 24 under pasient- og brukerrettighetsloven kap. 4A, for persons with dementia).
* The header: Oslo (0301) reports a city district (bydelNr); every export names a contact person who is
  obviously fictitious (a made-up surname, a telephone number starting with 0, which no Norwegian subscriber
  number does, and an address under the reserved ``.example`` domain).

By construction, clean generated data passes every logical control (``shared.iplos.controls``): scores in
{1..5, 9}, known service codes, dates in order and from 1900 on, services overlapping the year, hours where
they apply and only there, valid organisation numbers where they are required, no overlapping long-term stays,
unique identity numbers and tjenesteIDs, dates of deaths, assessments, refusals and complaints not after the
reporting year. ``tests/testkit/test_generator.py`` checks each rule on generated records.

Determinism: one ``random.Random`` seeded from (seed, municipality, year) draws the header and every base
person in order, so the same arguments give the same records and the same bytes. ``vary=k`` (k >= 1) gives a
resubmission of the same municipality-year: the base persons are drawn exactly as for ``vary=0`` and a second
generator seeded with k then removes about 2 %, changes about 8 % (a service ended, added or re-timed, a
score re-assessed) and adds about 2 % new persons, with a new message GUID.

Modules, in reading order: ``_export`` (the entry points and the determinism above), ``_header``, ``_person``
(one person: identity, services, death), ``_traits`` (age, diagnoses, scores, the service mix, hours),
``_background``, ``_decisions`` (refusals, complaints, coercion), ``_variant`` (a resubmission's changes),
``_context`` (what the persons of one export share), ``_identifiers`` (opaque ids),
``_fid`` (identity numbers, drawn as ``shared.fnr.synthetic_for`` draws them), ``_draws`` (``random.Random``'s
draws without its layers of calls) and ``_tables`` (the code lists and weights).

Speed: a national year (some 350,000 persons) is written in well under a minute. The hot paths avoid
``random.Random``'s Python layers and timedelta arithmetic but keep every draw, in the same order, with the same
values: ``tests/testkit/test_pinned_output.py`` pins the bytes, and the tests of ``_fid`` and ``_draws`` compare
them with the standard library's own methods draw for draw.
"""

from iplos_testkit.generator._context import ExportContext
from iplos_testkit.generator._export import generate_export, generate_records
from iplos_testkit.generator._header import draw_header
from iplos_testkit.generator._identifiers import opaque_id
from iplos_testkit.generator._person import GivenIdentity, PersonMaker

__all__ = [
    "ExportContext",
    "GivenIdentity",
    "PersonMaker",
    "draw_header",
    "generate_export",
    "generate_records",
    "opaque_id",
]
