"""The demo's step 7: the population register through the same TPF (issue 14, docs/population-register.md).

A synthetic population of the demo's municipalities over two years: the register's own gateway (a fourth process)
sends each municipality's extract of each year, the municipalities send their care exports of those years, and the
registry judges the care records against the register (the register controls K032-K035) and follows persons from
one year to the next (the flows), without ever learning an identity number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from iplos_chain import REGISTER_GATEWAY, Chain, client
from iplos_testkit.population import REPORTED_AS, PopulationFiles, generate_population

__all__ = ["REGISTER_YEARS", "RegisterStep", "run_register_step"]

#: Two years of their own: the demo's exports of its main year are of other (random) persons.
REGISTER_YEARS = (2023, 2024)
RESIDENTS = 400
ERROR_RATE = 0.05


@dataclass(frozen=True)
class RegisterStep:
    """What step 7 did: whether every check held, the population it sent, and its care submissions by (year,
    municipality)."""

    ok: bool
    population: PopulationFiles
    submissions: dict[tuple[int, str], str]


def run_register_step(console: Console, chain: Chain, municipalities: list[str], out: Path) -> RegisterStep:
    """Step 7; whether every report showed exactly the injected register faults and the flows are the truth."""
    first, year = REGISTER_YEARS
    console.print(
        f"[bold]7. The population register[/bold] through the same TPF: a synthetic population of {RESIDENTS} "
        f"residents a municipality over {first}-{year}, each municipality's register extract sent by the register's"
        f" gateway ({chain.url(REGISTER_GATEWAY)}), {ERROR_RATE:.0%} register faults in the care exports"
    )
    population = generate_population(
        out, municipalities, REGISTER_YEARS, residents=RESIDENTS, seed=14, errors=ERROR_RATE
    )
    verify, tokens, gateway = chain.verify, chain.municipality_tokens(), chain.url("gateway")
    register_gateway, register_token = chain.url(REGISTER_GATEWAY), chain.register_token
    submissions: dict[tuple[int, str], str] = {}
    sent = 0
    for _, path in sorted(population.registers.items()):
        accepted = client.submit(path, register_gateway, token=register_token, verify=verify)
        final = client.wait_final(register_gateway, accepted["submission_id"], token=register_token, verify=verify)
        sent += final["state"] == "stored"
    for (each_year, municipality), path in sorted(population.exports.items()):
        token = tokens[municipality]
        accepted = client.submit(path, gateway, token=token, verify=verify)
        client.wait_final(gateway, accepted["submission_id"], token=token, verify=verify)
        submissions[(each_year, municipality)] = accepted["submission_id"]
    console.print(
        f"   {sent} register extracts and {len(submissions)} care exports stored; the TPF pseudonymised both with"
        " the same key, so the registry joins them on pseudonyms alone"
    )

    table = Table(title=f"Register controls in each municipality's report of {year}")
    for column in ("municipality", "register faults injected", "register findings in the report", "exactly those"):
        table.add_column(column)
    matched = []
    for municipality in municipalities:
        expected = {
            (f.bruker_nr, REPORTED_AS[f.kind])
            for f in population.faults
            if (f.year, f.municipality) == (year, municipality)
        }
        url = f"{gateway}/v1/submissions/{submissions[(year, municipality)]}/report"
        report = client.get_json(url, tokens[municipality], verify=verify)
        found = {(f["brukerNr"], f["code"]) for f in report["findings"]}
        matched.append(found == expected)
        table.add_row(
            municipality, str(len(expected)), str(len(found)), "[green]yes[/green]" if matched[-1] else "[red]no[/red]"
        )
    console.print(table)

    truth = json.loads(population.truth.read_text(encoding="utf-8"))[str(year)]
    shown = client.get_json(
        f"{chain.url('registry')}/v1/operator/years/{year}/flows", chain.operator_token, verify=verify
    )
    national = shown["areas"][0]["flows"]
    # Every figure shown is the truth (a small one hidden), and the country's continuing recipients are many.
    flows_ok = all(value in (None, truth["national"][kind]) for kind, value in national.items()) and (
        national["continuing"] == truth["national"]["continuing"] > 0
    )
    console.print(
        f"   persons followed from {first} to {year} (a D-number replaced by a fødselsnummer stays one person): "
        + ", ".join(f"{kind.replace('_', ' ')} {'<5' if n is None else n}" for kind, n in national.items())
        + f"; the population's truth: {'[green]yes[/green]' if flows_ok else '[red]no[/red]'}"
    )
    console.print(f"   the operators' page: {chain.url('registry')}/dashboard/statistics?year={year}")
    return RegisterStep(all(matched) and flows_ok and sent == len(population.registers), population, submissions)
