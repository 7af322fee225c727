"""The demo's step 8: the comparison statistics back to every municipality (issue 15, docs/comparison.md).

Each municipality reads, through its own gateway and with its own credential, the registry's comparison statistics
for its care submission of step 7's last year: its figures beside its county's and the country's, and its own the
year before, sealed for it alone. Every figure shown is checked against a computation of its own from the generated
files (``iplos_testkit.comparison_truth``); a hidden one is fewer than 5 persons, or would give one away.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from iplos_chain import Chain, client
from iplos_testkit.comparison_truth import expected_indicators, flatten
from iplos_testkit.demo_register import REGISTER_YEARS, RegisterStep

__all__ = ["run_comparison_step"]


def run_comparison_step(console: Console, chain: Chain, municipalities: list[str], step: RegisterStep) -> bool:
    """Step 8; whether every municipality got its statistics and every figure shown is the computed one."""
    year = REGISTER_YEARS[-1]
    console.print(
        f"[bold]8. Comparison statistics[/bold] of {year}, sealed for each municipality and read at its gateway: its"
        " figures beside its county's and the country's, and its own the year before"
    )
    table = Table(title=f"Comparison statistics of {year} at each municipality's gateway")
    for column in ("municipality", "areas", "figures shown", "hidden", "every shown figure is the computed one"):
        table.add_column(column)
    tokens, gateway = chain.municipality_tokens(), chain.url("gateway")
    oks = []
    example = None
    for municipality in municipalities:
        submission = step.submissions[(year, municipality)]
        body = client.get_json(
            f"{gateway}/v1/submissions/{submission}/comparison", tokens[municipality], verify=chain.verify
        )
        shown = hidden = 0
        matches = True
        for area in body["areas"]:
            members = list(municipalities) if area["level"] == "country" else [municipality]
            expected = expected_indicators(step.population, area["year"], members)
            for name, value in flatten(area).items():
                if value is None:
                    hidden += 1
                    continue
                shown += 1
                matches &= name in expected and abs(value - expected[name]) < 0.006
        levels = {(a["level"], a["year"]) for a in body["areas"]}
        complete = {("municipality", year), ("county", year), ("country", year), ("municipality", year - 1)} <= levels
        oks.append(matches and complete and shown > 0)
        example = example or body
        table.add_row(
            municipality,
            str(len(body["areas"])),
            str(shown),
            str(hidden),
            "[green]yes[/green]" if oks[-1] else "[red]no[/red]",
        )
    console.print(table)
    if example is not None:
        country = next(a for a in example["areas"] if a["level"] == "country" and a["year"] == year)
        mine = next(a for a in example["areas"] if a["level"] == "municipality" and a["year"] == year)
        console.print(
            f"   e.g. {mine['name']}: recipients per 1,000 inhabitants {mine['per_1000']['0']['all']['value']}"
            f" (the country {country['per_1000']['0']['all']['value']}), aged 80 and over"
            f" {mine['share_80_plus']['value']} % (the country {country['share_80_plus']['value']} %);"
            f" iplos compare SUBMISSION_ID prints them all"
        )
    return all(oks)
