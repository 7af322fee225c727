"""``docs/controls.md``, generated from the catalogue (``python -m shared.iplos.controls > docs/controls.md``)."""

from __future__ import annotations

from shared.iplos.controls._catalogue import (
    CATALOGUE,
    CONFLICTING_DECISIONS,
    DUPLICATE_PERSON,
    DUPLICATE_SERVICE_ID,
    NOT_RESIDENT,
    Control,
)


def render_markdown() -> str:
    """The content of ``docs/controls.md``, generated from ``CATALOGUE``."""
    lines = [
        "# Logical controls (logiske kontroller)",
        "",
        "<!-- Generated from shared/iplos/controls/ by"
        " `.venv/bin/python -m shared.iplos.controls > docs/controls.md`. Do not edit by hand:"
        " tests/shared/test_controls.py fails when this file and the code differ. -->",
        "",
        "The registry runs these controls on every submission and reports the findings to the submitting",
        "municipality, per record reference, in a control report sealed for that municipality. Two tiers: a",
        "schema error rejects the whole submission (the gateway finds it before sealing); the controls below are",
        "content findings, stored with the record, which is kept. An `error` is a value that cannot be right and",
        "must be corrected; a `warning` is a value that is probably wrong or superfluous and should be checked.",
        "",
        "Codes are stable forever: a published code is never renumbered or reused. Titles and rules are in",
        "Norwegian, as the municipality reads them. `submission` controls concern the message header (`ref` is",
        "empty); `record` controls concern one person record. Cross-record controls "
        f"({DUPLICATE_PERSON}, {DUPLICATE_SERVICE_ID}, {CONFLICTING_DECISIONS}) report the",
        "second and later occurrence in submission order.",
        "",
        "The register controls (judged against: `register`) compare each record with the population register's",
        "extract of the reporting municipality and year, which the register sends through the same TPF (the join is",
        "on pseudonyms; docs/population-register.md). They run when the submission is stored and again whenever",
        "that extract arrives or is replaced, so a submission stored before the register gets them later and its",
        "control report changes. Whatever number a municipality reports, its report says only what it may know of",
        f"its own residents: {NOT_RESIDENT} does not tell a person living elsewhere from one unknown to the register,",
        "and a control marked *registry only* is never in a municipality's report.",
        "",
        "The business register controls (judged against: `business`) look up the organisation number of the unit",
        "that performed each service in the registry's copy of Enhetsregisteret (main units and sub-units, loaded",
        "by the registry's operators with `iplos registers load-enheter`; docs/business-register.md). They run when",
        "the submission is stored, once both kinds of unit are loaded, and again after every load.",
        "",
        "Closed vocabularies (the event type of a service line, the legal basis of a coercion decision, the",
        "outcome of a complaint) are enumerated in the export's XSD and in the payload format: a value outside",
        "them is a schema error, so there is no control for them here.",
        "",
        "| Code | Severity | Scope | Judged against | Title |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {c.code} | {c.severity.value} | {c.scope} | {_against(c)} | {c.title} |" for c in CATALOGUE]
    lines.append("")
    for c in CATALOGUE:
        lines += [f"## {c.code}: {c.title}", "", f"*{c.severity.value}, {c.scope}, {_against(c)}.* {c.rule}", ""]
    lines += [
        "## Reference data",
        "",
        "Municipality numbers: SSB classification 131, shipped in `shared/iplos/data/`. Inneholder data under",
        "Norsk lisens for offentlige data (NLOD) tilgjengeliggjort av Statistisk sentralbyrå (SSB).",
        "",
    ]
    return "\n".join(lines)


def _against(c: Control) -> str:
    return c.source if c.municipality_sees else f"{c.source}, registry only"
