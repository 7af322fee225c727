"""A synthetic population followed over years, with its population register extracts and the care exports of its
municipalities: the test data of issue 14 (the population register through the same TPF).

``generate_population(out, municipalities, years, residents=..., seed=..., errors=...)`` simulates about
``residents`` persons per municipality from 1 January of the first year (``_simulation``: moves between the
municipalities, arrivals from abroad with D-numbers, departures, deaths, D-numbers replaced by fødselsnumre, care
starting), and writes:

* ``folkeregister/<year>/<kommunenummer>.jsonl``: the register extract of each municipality and year
  (``iplos-folkeregister/1``, docs/population-register.md), every person who lived there that year, their history
  cut at the year's end (a person who moved is in both municipalities' extracts);
* ``<year>/<kommunenummer>.xml``: each municipality's IPLOS export of each year, the persons receiving care who
  lived there, drawn by the export generator for their identity (``_care``: services cut to the days they lived
  there and to their death);
* ``answer-key.json``: with ``errors`` above 0, the register faults injected (``_faults``): which record
  (year, kommuneNr, brukerNr) carries which kind; clean data carries none;
* ``truth.json``: the flows between consecutive years per municipality and nationally (``_flows``).

The population is older than a real one (a quarter drawn from 67-104), so that a few hundred residents give
enough care recipients to test with. Only synthetic numbers (Tenor form, month + 80) are made.
"""

from iplos_testkit.population._faults import REPORTED_AS, RegisterFault, RegisterFaultKind
from iplos_testkit.population._files import ANSWER_KEY_FORMAT, PopulationFiles, generate_population
from iplos_testkit.population._flows import LONG_TERM_STAY, flows
from iplos_testkit.population._simulation import Population, SimPerson

__all__ = [
    "ANSWER_KEY_FORMAT",
    "LONG_TERM_STAY",
    "REPORTED_AS",
    "Population",
    "PopulationFiles",
    "RegisterFault",
    "RegisterFaultKind",
    "SimPerson",
    "flows",
    "generate_population",
]
