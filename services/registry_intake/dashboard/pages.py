"""The dashboard's pages: server-rendered from the same documents the operator API returns.

Every page needs a signed-in operator or auditor (``services/kit/web.py``: the bearer header or the sign-in
cookie); without one it redirects to the sign-in page. Query parameters are read leniently (an unknown
filter or sort falls back to the default), so a hand-edited address still shows a page. Everything works
without JavaScript: filters are a GET form, sorting is links, charts are SVG drawn here beside their tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.web import (
    KIT_LABELS,
    Formatter,
    NavItem,
    PageError,
    WebUI,
    charts,
    language_of,
    make_environment,
    merge_labels,
)
from services.kit.web.downloads import csv_download, csv_text
from services.registry_intake.dashboard.i18n import LABELS
from services.registry_intake.dependencies import COOKIE, READERS, context, credentials, now, sees_findings
from services.registry_intake.schemas import FIRST_YEAR, LAST_YEAR, STATUS_FILTERS, FlowCounts, OverviewQuery
from services.registry_intake.service import NotFound, reading
from shared.iplos.comparison_csv import figures_csv
from shared.iplos.municipalities import NoMunicipalityList, municipality_name

__all__ = ["HOME", "PREFIX", "UI", "router"]

PREFIX: Final = "/dashboard"
HOME: Final = PREFIX
_TEMPLATES: Final = Path(__file__).parent / "templates"

UI: Final = WebUI(
    templates=make_environment(_TEMPLATES),
    labels=merge_labels(KIT_LABELS, LABELS),
    get_credentials=credentials,
    roles=READERS,
    prefix=PREFIX,
    home=HOME,
    app_name="app_name",
    static_paths=("/static/dashboard/dashboard.css",),
    cookie=COOKIE,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: The overview's columns: (sort key, label key, numeric).
COLUMNS: Final = (
    ("municipality", "col_municipality", False),
    ("name", "col_name", False),
    ("status", "col_status", False),
    ("received", "col_received", False),
    ("records", "col_records", True),
    ("findings", "col_findings", True),
    ("replaced", "col_replaced", True),
)
COUNT_KEYS: Final = ("expected", "received", "missing", "with_findings", "replaced", "held", "late", "overdue")
FINDINGS_PAGE: Final = 200


def _nav(request: Request, lang: str, year: int, current: str) -> list[NavItem]:
    t = UI.labels[lang]
    return [
        NavItem(t["nav_overview"], UI.href(request, HOME, lang, year=year), current == "overview", "nav-overview"),
        NavItem(
            t["nav_statistics"],
            UI.href(request, f"{PREFIX}/statistics", lang, year=year),
            current == "statistics",
            "nav-statistics",
        ),
        NavItem(
            t["nav_comparison"],
            UI.href(request, f"{PREFIX}/comparison", lang, year=year),
            current == "comparison",
            "nav-comparison",
        ),
    ]


def _year(request: Request, raw: str | None) -> int:
    """``?year=`` if it is a year the views cover, else the default (the latest year with data)."""
    if raw is not None and raw.isascii() and raw.isdigit() and len(raw) == 4:
        year = int(raw)
        if FIRST_YEAR <= year <= LAST_YEAR:
            return year
    return reading.default_year(context(request), now(request))


def _year_choices(request: Request, year: int) -> list[int]:
    years = set(reading.available_years(context(request))) | {year}
    this_year = now(request).year
    years |= {y for y in (this_year - 1, this_year - 2) if y >= FIRST_YEAR}
    return sorted(years, reverse=True)


@router.get("", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    caller = UI.credential(request)
    lang = language_of(request)
    params = request.query_params
    year = _year(request, params.get("year"))
    query = OverviewQuery.lenient(params.get("status"), params.get("q"), params.get("sort"), params.get("order"))
    document = reading.year_overview(
        context(request), year, now(request), query, with_findings=sees_findings(caller)
    ).model_dump(mode="json")
    keep = {"year": year, "status": query.status if query.status != "all" else None, "q": query.q or None}
    columns = []
    for key, label, numeric in COLUMNS:
        sorted_here = query.sort == key
        next_order = "desc" if sorted_here and query.order == "asc" else "asc"
        columns.append(
            {
                "key": key,
                "label": UI.labels[lang][label],
                "numeric": numeric,
                "sorted": sorted_here,
                "aria_sort": ("ascending" if query.order == "asc" else "descending") if sorted_here else None,
                "href": UI.href(request, HOME, lang, **keep, sort=key, order=next_order),
            }
        )
    rows = [
        row
        | {
            "href": UI.href(request, f"{PREFIX}/submissions/{row['submission_id']}", lang)
            if row["submission_id"]
            else None
        }
        for row in document["municipalities"]
    ]
    context_ = {
        "doc": document,
        "rows": rows,
        "year": year,
        "years": _year_choices(request, year),
        "columns": columns,
        "count_keys": COUNT_KEYS,
        "query": query,
        "status_filters": STATUS_FILTERS,
        "form_action": UI.href(request, HOME, "nb"),
        "reset_href": UI.href(request, HOME, lang, year=year),
        "sees_findings": sees_findings(caller),
        "waiting": [
            w | {"href": UI.href(request, f"{PREFIX}/submissions/{w['submission_id']}", lang)}
            for w in reading.waiting_or_stopped(context(request), year, now(request))
        ],
        "csv_href": lambda table: UI.href(request, f"{PREFIX}/tables/{table}.csv", lang, year=year),
        "history_href": lambda nr: UI.href(request, f"{PREFIX}/municipalities/{nr}", lang),
    }
    return UI.render(
        request, "dashboard/overview.html", context_, user=caller, nav=_nav(request, lang, year, "overview")
    )


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(request: Request) -> HTMLResponse:
    caller = UI.credential(request)
    lang = language_of(request)
    year = _year(request, request.query_params.get("year"))
    ctx = context(request)
    intake = reading.intake_by_day(ctx, year).model_dump(mode="json")
    days = intake["days"]

    def fmt_day(day: str) -> str:  # a column's label: day and month
        return f"{day[8:10]}.{day[5:7]}" if lang == "nb" else day[5:]

    intake_chart = charts.columns(
        [(fmt_day(d["day"]), d["submissions"], d["after_deadline"]) for d in days],
        line=[d["municipalities_so_far"] for d in days],
        line_max=intake["expected"],
    )
    services = reading.records_per_service_type(ctx, year).model_dump(mode="json")
    service_chart = charts.horizontal_bars(
        [
            (
                f"{s['service_type']} {s['name'] or ''}".strip(),
                s["persons"],
                "<5" if s["suppressed"] else str(s["persons"]),
            )
            for s in services["service_types"]
        ]
    )
    flows = reading.year_flows(ctx, year).model_dump(mode="json")
    rules = None
    rules_chart = None
    if sees_findings(caller):
        rules = reading.findings_by_rule(ctx, year).model_dump(mode="json")
        shown = [r for r in rules["rules"] if r["suppressed"] or r["findings"]]
        percent = Formatter(lang).percent
        # Drawn against a scale from 0 to a round rate at or above the largest, with its ticks: rates of a tenth of
        # a per cent are not drawn as full bars, and one rule against another shows.
        rules_chart = charts.horizontal_bars(
            [(r["code"], r["rate"], "<5" if r["suppressed"] else percent(r["rate"], 2)) for r in shown],
            label_width=70,
            scale=lambda value: percent(value, 2),
        )
    context_ = {
        "year": year,
        "years": _year_choices(request, year),
        "form_action": UI.href(request, f"{PREFIX}/statistics", "nb"),
        "intake": intake,
        "intake_chart": intake_chart,
        "services": services,
        "service_chart": service_chart,
        "rules": rules,
        "rules_chart": rules_chart,
        "sees_findings": sees_findings(caller),
        # Care recipients followed from the year before (issue 14): aggregate, small cells suppressed.
        "flows": flows,
        "flow_kinds": list(FlowCounts.model_fields),
        "municipality_names": {area["area"]: _name(area["area"], year) for area in flows["areas"]},
        "register": reading.register_year(ctx, year).model_dump(mode="json"),
        "csv_href": lambda table: UI.href(request, f"{PREFIX}/tables/{table}.csv", lang, year=year),
    }
    return UI.render(
        request, "dashboard/statistics.html", context_, user=caller, nav=_nav(request, lang, year, "statistics")
    )


#: The national picture's columns: (label key, figure of an area's document).
_COMPARISON_COLUMNS: Final[tuple[tuple[str, Callable[[dict[str, Any]], dict[str, Any] | None]], ...]] = (
    ("col_per_1000", lambda a: a["per_1000"].get("0", {}).get("all")),
    ("col_share_80", lambda a: a["share_80_plus"]),
    ("col_long_term", lambda a: a["share_long_term"]),
    ("col_hours_home", lambda a: a["hours_median"].get("15")),
    ("col_days", lambda a: a["days_to_decision_median"]),
    ("col_plan", lambda a: a["share_individual_plan"]),
    ("col_score_home", lambda a: a["score_mean"].get("home")),
    ("col_score_institution", lambda a: a["score_mean"].get("institution")),
)


@router.get("/comparison", response_class=HTMLResponse)
def comparison_page(request: Request) -> HTMLResponse:
    """The national picture of the comparison statistics: the country, each county and each municipality's key
    figures (the operator API's ``/years/{year}/comparison``), a chart of the counties, and every figure as CSV."""
    caller = UI.credential(request)
    lang = language_of(request)
    year = _year(request, request.query_params.get("year"))
    t = UI.labels[lang]
    document = reading.comparison_year(context(request), year).model_dump(mode="json")

    def text(figure: dict[str, Any] | None) -> str:
        if figure is None or figure["value"] is None:
            note = None if figure is None else figure["note"]
            return t["figure_no_register"] if note == "no-register" else t["figure_hidden"] if note else "–"
        return Formatter(lang).decimal(figure["value"])

    rows = [
        {
            "level": area["level"],
            "code": area["code"],
            "name": area["name"],
            "recipients": area["recipients"],
            "cells": [text(get(area)) for _, get in _COMPARISON_COLUMNS],
        }
        for area in document["areas"]
    ]
    county_rates = [
        (
            area["name"],
            (area["per_1000"].get("0", {}).get("all") or {}).get("value"),
            text(area["per_1000"].get("0", {}).get("all")),
        )
        for area in document["areas"]
        if area["level"] == "county"
    ]
    context_ = {
        "year": year,
        "years": _year_choices(request, year),
        "form_action": UI.href(request, f"{PREFIX}/comparison", "nb"),
        "csv_href": UI.href(request, f"{PREFIX}/comparison.csv", lang, year=year),
        "columns": [t[key] for key, _ in _COMPARISON_COLUMNS],
        "rows": rows,
        "chart": charts.horizontal_bars(county_rates, label_width=180) if county_rates else None,
    }
    return UI.render(
        request, "dashboard/comparison.html", context_, user=caller, nav=_nav(request, lang, year, "comparison")
    )


@router.get("/comparison.csv")
def comparison_csv(request: Request) -> Response:
    """Every figure of the year's national picture, one a line."""
    UI.credential(request)
    year = _year(request, request.query_params.get("year"))
    document = reading.comparison_year(context(request), year).model_dump(mode="json")
    return csv_download(figures_csv(document["areas"]), f"sammenligning-{year}.csv")


#: The tables the dashboard shows, each as CSV: (its rows from the year's documents, operators only).
_TABLES: Final[dict[str, tuple[Callable[[Request, int], list[dict[str, Any]]], bool]]] = {
    "overview": (
        lambda r, y: reading.year_overview(
            context(r), y, now(r), OverviewQuery.lenient(None, None, None, None)
        ).model_dump(mode="json")["municipalities"],
        False,
    ),
    "waiting": (lambda r, y: reading.waiting_or_stopped(context(r), y, now(r)), False),
    "intake": (lambda r, y: reading.intake_by_day(context(r), y).model_dump(mode="json")["days"], False),
    "rules": (lambda r, y: reading.findings_by_rule(context(r), y).model_dump(mode="json")["rules"], True),
    "service-types": (
        lambda r, y: reading.records_per_service_type(context(r), y).model_dump(mode="json")["service_types"],
        False,
    ),
    "flows": (lambda r, y: reading.year_flows(context(r), y).model_dump(mode="json")["areas"], False),
}


@router.get("/tables/{table}.csv")
def table_csv(request: Request, table: str) -> Response:
    """One of the dashboard's tables for the year, every row and column, as CSV (the comparison statistics have
    their own, /dashboard/comparison.csv)."""
    caller = UI.credential(request)
    found = _TABLES.get(table)
    if found is None:
        raise PageError(404, "error_not_found", testid="not-found")
    rows_of, findings_only = found
    if findings_only and not sees_findings(caller):
        raise PageError(403, "findings_withheld_page", testid="findings-withheld")
    year = _year(request, request.query_params.get("year"))
    return _csv_response(rows_of(request, year), f"{table}-{year}.csv")


# Before the page's route, whose path would take "0301.csv" for a municipality.
@router.get("/municipalities/{municipality}.csv")
def municipality_csv(request: Request, municipality: str) -> Response:
    UI.credential(request)
    if not (len(municipality) == 4 and municipality.isascii() and municipality.isdigit()):
        raise PageError(404, "error_not_found", testid="not-found")
    rows = reading.municipality_history(context(request), municipality, now(request))
    return _csv_response(rows, f"kommune-{municipality}.csv")


@router.get("/municipalities/{municipality}", response_class=HTMLResponse)
def municipality_page(request: Request, municipality: str) -> HTMLResponse:
    """One municipality across the years: every submission the registry holds a row of, what was in effect, what
    replaced what, late or not, with its counts."""
    caller = UI.credential(request)
    lang = language_of(request)
    if not (len(municipality) == 4 and municipality.isascii() and municipality.isdigit()):
        raise PageError(404, "error_not_found", testid="not-found")
    history = [
        h | {"href": UI.href(request, f"{PREFIX}/submissions/{h['submission_id']}", lang)}
        for h in reading.municipality_history(context(request), municipality, now(request))
    ]
    year = history[0]["year"] if history else _year(request, None)
    context_ = {
        "municipality": municipality,
        "name": _name(municipality, year),
        "history": history,
        "csv_href": UI.href(request, f"{PREFIX}/municipalities/{municipality}.csv", lang),
        "sees_findings": sees_findings(caller),
    }
    return UI.render(
        request, "dashboard/municipality.html", context_, user=caller, nav=_nav(request, lang, year, "municipality")
    )


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A row's values one level deep ("flows.stayed"), lists as their length: a CSV's columns."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _flat(value, f"{name}.")
        elif isinstance(value, list):
            flat[name] = len(value)
        else:
            flat[name] = "" if value is None else value
    return flat


def _csv_response(rows: list[dict[str, Any]], name: str) -> Response:
    flat = [_flat(row) for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    return csv_download(csv_text(columns, ([row.get(column, "") for column in columns] for row in flat)), name)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(request: Request, submission_id: str) -> HTMLResponse:
    caller = UI.credential(request)
    lang = language_of(request)
    try:
        found = reading.submission_detail(context(request), submission_id, with_findings=sees_findings(caller))
    except NotFound:
        raise PageError(404, "error_not_found", testid="not-found") from None
    detail = found.model_dump(mode="json")
    year = detail["submission"]["year"]
    context_ = {
        "d": detail,
        "s": detail["submission"],
        "receipt_json": _pretty(detail["receipt"]["receipt"]),
        "history": [
            h | {"href": UI.href(request, f"{PREFIX}/submissions/{h['submission_id']}", lang)}
            for h in detail["history"]
        ],
        "rule_href": lambda code: UI.href(request, f"{PREFIX}/submissions/{submission_id}/findings", lang, rule=code),
        "all_findings_href": UI.href(request, f"{PREFIX}/submissions/{submission_id}/findings", lang),
        "overview_href": UI.href(request, HOME, lang, year=year if year >= FIRST_YEAR else None),
        "api_href": f"/v1/operator/submissions/{submission_id}",
        "proof_href": f"/v1/audit/proof/inclusion?message_id={submission_id}",
    }
    return UI.render(
        request, "dashboard/submission.html", context_, user=caller, nav=_nav(request, lang, year, "submission")
    )


@router.get("/submissions/{submission_id}/findings", response_class=HTMLResponse)
def findings_page(request: Request, submission_id: str) -> HTMLResponse:
    caller = UI.credential(request)
    if not sees_findings(caller):
        raise PageError(403, "findings_withheld_page", testid="findings-withheld")
    lang = language_of(request)
    ctx = context(request)
    rule = request.query_params.get("rule")
    rule = rule if rule and len(rule) == 4 and rule[0].isalpha() and rule[1:].isdigit() else None
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and 0 < len(raw_page) < 7 else 1
    page = max(page, 1)
    try:
        found = reading.record_findings(ctx, submission_id, rule, (page - 1) * FINDINGS_PAGE, FINDINGS_PAGE)
        stored = reading.submission(ctx, submission_id)
    except NotFound:
        raise PageError(404, "error_not_found", testid="not-found") from None
    document = found.model_dump(mode="json")
    pages = max(1, -(-document["total"] // FINDINGS_PAGE))
    base = f"{PREFIX}/submissions/{submission_id}/findings"
    context_ = {
        "doc": document,
        "stored": stored,
        "rule": rule,
        "page": page,
        "pages": pages,
        "prev_href": UI.href(request, base, lang, rule=rule, page=page - 1) if page > 1 else None,
        "next_href": UI.href(request, base, lang, rule=rule, page=page + 1) if page < pages else None,
        "submission_href": UI.href(request, f"{PREFIX}/submissions/{submission_id}", lang),
        "all_href": UI.href(request, base, lang) if rule else None,
    }
    return UI.render(
        request, "dashboard/findings.html", context_, user=caller, nav=_nav(request, lang, stored.year, "findings")
    )


def _pretty(document: Any) -> str:
    """A JSON document as the pages show it (the receipt)."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)


def _name(area: str, year: int) -> str:
    """A municipality's name that year, for a table row (empty for "national" or an unknown number)."""
    if area == "national":
        return ""
    try:
        return municipality_name(area, year) or ""
    except NoMunicipalityList:
        return ""
