"""The pages: a list of submissions and one submission's detail, rendered from the API's own documents by the
same use cases (``service``) the API calls, so a page and the API cannot disagree about who sees or may do what."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.kit.bodies import read_upload, refuse_large, require_small_body
from services.kit.credentials import Credential
from services.kit.problems import Problem
from services.kit.web import (
    FORM_TOKEN_FIELD,
    KIT_LABELS,
    NavItem,
    PageError,
    WebUI,
    charts,
    language_of,
    make_environment,
    merge_labels,
    security_headers,
)
from services.kit.web.downloads import csv_download, csv_text
from services.municipality_gateway import service
from services.municipality_gateway.admission import UploadSlots
from services.municipality_gateway.comparison_view import (
    AGE_COLUMNS,
    Lang,
    Row,
    columns,
    indicator_rows,
    per_1000_rows,
    to_csv,
)
from services.municipality_gateway.dependencies import gateway_context
from services.municipality_gateway.pages.i18n import LABELS
from services.municipality_gateway.schemas import ComparisonFigure, ComparisonReport, ControlReport, Submission
from services.municipality_gateway.service import GatewayContext
from services.municipality_gateway.states import DONE_STATES, RETRYABLE, SubmissionState
from shared.iplos.controls import CATALOGUE
from shared.iplos.problem_text import Language, tail_lines
from shared.iplos.reporting_year import NORWEGIAN_TIME, next_deadline_year, reporting_deadline

PREFIX: Final = "/pages"
STATIC_PATH: Final = "/static/gateway"
HOME: Final = f"{PREFIX}/submissions"
# Operators see every municipality's; a municipality's token its own (the same rule as the API).
ROLES: Final = frozenset({"operator", "municipality"})
# A control report can name every person of a municipality: a page of findings at a time, and all of them as CSV.
FINDINGS_PER_PAGE: Final = 100
# The precise rule of each control, shown beside its findings (the report carries each finding's one-line title).
_RULES: Final = {control.code: control.rule for control in CATALOGUE}

UI: Final = WebUI(
    templates=make_environment(Path(__file__).parent / "templates"),
    labels=merge_labels(KIT_LABELS, LABELS),
    get_credentials=lambda request: gateway_context(request).credentials,
    roles=ROLES,
    prefix=PREFIX,
    home=HOME,
    static_paths=(f"{STATIC_PATH}/gateway.css",),
    # Its own name: the registry's dashboard on the same host (another port) keeps its sign-in apart.
    cookie="iplos_gateway_session",
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)
# What a form on a submission's page calls: the API's use case for the same action.
UseCase = Callable[[GatewayContext, Credential, str], Awaitable[Submission]]


def _nav(request: Request, lang: str) -> list[NavItem]:
    return [NavItem(UI.labels[lang]["nav_submissions"], UI.href(request, HOME, lang), True, "nav-submissions")]


def _page(submission: Submission) -> dict[str, Any]:
    """The submission as the API sends it, for a template."""
    return submission.model_dump(mode="json", by_alias=True)


def hops(row: dict[str, Any]) -> list[dict[str, str]]:
    """Where a submission is, per hop: done, waiting, failed or not reached, with what to say about it."""
    state, receipt = SubmissionState(row["state"]), row["receipt"] or {}
    tpf: dict[str, str]
    if state in DONE_STATES:
        tpf = {"status": "done", "text": "hop_tpf_passed"}
    elif state is SubmissionState.FORWARDED:
        tpf = {"status": "done", "text": "hop_tpf_forwarded"}
    elif state in RETRYABLE:
        tpf = {"status": "failed", "text": "hop_tpf_failed"}
    else:
        tpf = {"status": "waiting", "text": "hop_tpf_queued"}
    if state is SubmissionState.STORED:
        registry = {"status": "done", "text": "hop_registry_stored"}
    elif state is SubmissionState.REFUSED:
        registry = {"status": "failed", "text": "hop_registry_refused"}
    elif state is SubmissionState.HELD:
        registry = {"status": "waiting", "text": "hop_registry_held"}
    elif state is SubmissionState.FORWARDED:
        registry = {"status": "waiting", "text": "hop_registry_pending"}
    else:
        registry = {"status": "not_reached", "text": "hop_registry_pending"}
    return [
        {"hop": "gateway", "status": "done", "text": "hop_gateway_text", "at": row["created_at"]},
        {"hop": "tpf", **tpf, "at": row.get("forwarded_at") or ""},
        {"hop": "registry", **registry, "at": receipt.get("received_at", ""), "reason": receipt.get("reason") or ""},
    ]


@router.get("", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return security_headers(RedirectResponse(UI.href(request, HOME, language_of(request)), status_code=303))


@router.get("/submissions", response_class=HTMLResponse)
async def submissions_page(request: Request) -> HTMLResponse:
    caller = await UI.caller(request)
    lang = language_of(request)
    context = await _list_context(request, caller, lang)
    return UI.render(request, "gateway/submissions.html", context, user=caller, nav=_nav(request, lang))


async def _list_context(request: Request, caller: Credential, lang: str) -> dict[str, Any]:
    """The list of submissions: the caller's (a year's, when one is chosen), which is the one in effect for its
    municipality and year and which a later one replaced, the state counts, and the reporting deadline."""
    raw_year = request.query_params.get("year", "")
    year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 else None
    # All of the caller's years, for the year filter; the page filters what it shows.
    rows = [_page(s) for s in await service.list_submissions(gateway_context(request), caller)]
    years = sorted({row["year"] for row in rows}, reverse=True)
    standing = currency(rows)
    shown = [row | {"hops": hops(row)} for row in rows if year is None or row["year"] == year]
    for row in shown:
        row["href"] = UI.href(request, f"{HOME}/{row['submission_id']}", lang)
        row["standing"], replaced_by = standing.get(row["submission_id"], ("", None))
        row["replaced_by_href"] = UI.href(request, f"{HOME}/{replaced_by}", lang) if replaced_by else None
    t = UI.labels[lang]
    scope = t["scope_own"].format(municipality=caller.municipality) if caller.municipality else t["scope_all"]
    reporting_year = year or next_deadline_year()
    deadline = reporting_deadline(reporting_year)
    days_left = (deadline - dt.datetime.now(NORWEGIAN_TIME).date()).days
    return {
        "rows": shown,
        "years": years,
        "year": year,
        "scope": scope,
        "action": UI.href(request, HOME, "nb"),
        "upload_action": UI.href(request, f"{HOME}/upload", lang),
        "state_counts": sorted(Counter(row["state"] for row in shown).items()),
        "deadline": {"year": reporting_year, "last_day": deadline.isoformat(), "days_left": days_left},
        "upload_problem": None,
    }


def currency(rows: list[dict[str, Any]]) -> dict[str, tuple[str, str | None]]:
    """For each submission the registry answered: "current" (the one in effect for its municipality and year) or
    "superseded" with the id of the one that replaced it, from the registry's signed receipts (``supersedes``). A
    submission still on its way, held or refused is neither."""
    replaced_by = {
        row["receipt"]["supersedes"]: row["submission_id"]
        for row in rows
        if row["state"] == SubmissionState.STORED and row["receipt"] and row["receipt"].get("supersedes")
    }
    standing: dict[str, tuple[str, str | None]] = {}
    for row in rows:
        if row["submission_id"] in replaced_by:
            standing[row["submission_id"]] = ("superseded", replaced_by[row["submission_id"]])
        elif row["state"] == SubmissionState.STORED:
            standing[row["submission_id"]] = ("current", None)
    return standing


@router.post("/submissions/upload", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    """An export sent from the browser: the API's own use case (``service.submit_export``) on the uploaded file,
    under the same per-credential and total upload limits; then the new submission's page, or the list with the
    refusal, every schema error listed as ``iplos validate`` lists them."""
    caller = await UI.caller(request)
    lang = language_of(request)
    UI.check_origin(request)  # before the body is read; the form's token once it is (below)
    ctx = gateway_context(request)
    slots: UploadSlots = request.app.state.upload_slots
    try:
        # The form's own fields and boundaries are small: the file may be as large as the API takes.
        refuse_large(request, ctx.settings.max_body_bytes + _FORM_OVERHEAD)
        with slots.slot(caller.name):
            async with request.form(max_files=1, max_fields=2) as form:
                UI.check_form(request, form.get(FORM_TOKEN_FIELD))
                sent = await read_upload(form.get("export"), "export", ctx.settings.max_body_bytes)
                submit = service.submit_extract if ctx.register_zone else service.submit_export
                accepted = await submit(ctx, caller, sent.file, export_sha256=sent.sha256)
    except Problem as problem:
        context = await _list_context(request, caller, lang)
        context["upload_problem"] = _upload_problem(problem, lang)
        response = UI.render(request, "gateway/submissions.html", context, user=caller, nav=_nav(request, lang))
        response.status_code = problem.status
        return response
    target = UI.href(request, f"{HOME}/{accepted.submission_id}", lang, uploaded=1)
    return security_headers(RedirectResponse(target, status_code=303))


# Room for the multipart boundaries, the part's headers and its file name around the export itself.
_FORM_OVERHEAD: Final = 64 * 1024


def _upload_problem(problem: Problem, lang: str) -> dict[str, Any]:
    """A refused upload for the page: the answer's title and, for schema errors, the errors as `iplos validate`
    prints them (the same lines, in the page's language)."""
    errors = problem.extensions.get("errors") or []
    listed = [e for e in errors if isinstance(e, dict) and "rule" in e]
    language: Language = "en" if lang == "en" else "nb"
    return {
        "slug": problem.slug,
        "title": problem.title,
        "count": int(problem.extensions.get("error_count", len(listed))),
        "errors": [
            {
                "line": e.get("line") or "?",
                "path": e.get("path") or "",
                "rule": e.get("rule"),
                "message": e.get("message_nb" if language == "nb" else "message") or e.get("message"),
            }
            for e in listed
        ],
        "more": tail_lines(
            len(listed),
            int(problem.extensions.get("error_count", len(listed))),
            bool(problem.extensions.get("complete", True)),
            language,
        ),
    }


def _not_found() -> PageError:
    return PageError(404, "error_not_found", testid="not-found")  # another municipality's: as if unknown


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(request: Request, submission_id: str) -> HTMLResponse:
    caller = await UI.caller(request)
    lang = language_of(request)
    ctx = gateway_context(request)
    try:
        row = _page(await service.get_submission(ctx, caller, submission_id))
    except Problem:
        raise _not_found() from None
    siblings = [_page(x) for x in await service.list_submissions(ctx, caller, row["municipality"], row["year"])]
    standing, replaced_by = currency(siblings).get(submission_id, ("", None))
    report: dict[str, Any] | None = None
    report_problem: str | None = None
    if row["state"] == SubmissionState.STORED:
        try:
            report = _report_page(await service.report(ctx, caller, submission_id))
        except Problem as problem:
            report_problem = problem.title
    findings = (report or {}).get("findings", [])
    page = _page_number(request, len(findings))
    context = {
        "s": row,
        "hops": hops(row),
        "standing": standing,
        "replaced_by": replaced_by,
        "replaced_by_href": UI.href(request, f"{HOME}/{replaced_by}", lang) if replaced_by else None,
        "uploaded": request.query_params.get("uploaded") == "1",
        "receipt_json": json.dumps(row["receipt"], indent=2, sort_keys=True) if row["receipt"] else None,
        "report": report,
        "report_problem": report_problem,
        "findings_shown": [
            f | {"rule_text": _RULES.get(f["code"], "")}
            for f in findings[(page - 1) * FINDINGS_PER_PAGE : page * FINDINGS_PER_PAGE]
        ],
        "findings_first": (page - 1) * FINDINGS_PER_PAGE + 1,
        "pages": _pages(request, submission_id, lang, page, len(findings)),
        "findings_csv_href": UI.href(request, f"{HOME}/{submission_id}/findings.csv", lang) if findings else None,
        "retryable": row["state"] in RETRYABLE,
        "retry_action": UI.href(request, f"{HOME}/{submission_id}/retry", lang),
        "retried": request.query_params.get("retried") == "1",
        "confirmable": row["state"] == SubmissionState.HELD,
        "confirm_action": UI.href(request, f"{HOME}/{submission_id}/confirm-replacement", lang),
        "back_href": UI.href(request, HOME, lang),
        "comparison_href": UI.href(request, f"{HOME}/{submission_id}/comparison", lang)
        if row["state"] == SubmissionState.STORED
        else None,
    }
    return UI.render(request, "gateway/submission.html", context, user=caller, nav=_nav(request, lang))


@router.get("/submissions/{submission_id}/comparison", response_class=HTMLResponse)
async def comparison_page(request: Request, submission_id: str) -> HTMLResponse:
    """The registry's comparison statistics for the submission's municipality: tables and charts of the same rows
    ``iplos compare`` prints, and every figure as CSV."""
    caller = await UI.caller(request)
    lang: Lang = "en" if language_of(request) == "en" else "nb"
    ctx = gateway_context(request)
    try:
        row = _page(await service.get_submission(ctx, caller, submission_id))
    except Problem:
        raise _not_found() from None
    t = UI.labels[lang]
    report: ComparisonReport | None = None
    problem: str | None = None
    try:
        report = await service.comparison(ctx, caller, submission_id)
    except Problem as exc:
        problem = exc.title
    context: dict[str, Any] = {
        "s": row,
        "problem": problem,
        "back_href": UI.href(request, f"{HOME}/{submission_id}", lang),
        "csv_href": UI.href(request, f"{HOME}/{submission_id}/comparison.csv", lang),
    }
    if report is not None:
        cols = columns(report, lang)
        shown = _figure_text(t)
        tables = [
            ("rates", t["comparison_rates_caption"], per_1000_rows(report, "all", lang)),
            ("ages", t["comparison_age_caption"], _age_rows(report, lang)),
            ("indicators", t["comparison_indicators_caption"], indicator_rows(report, lang)),
        ]
        context |= {
            "columns": [c.label for c in cols],
            "tables": [
                {"id": key, "caption": caption, "rows": [_row(r, shown) for r in rows]} for key, caption, rows in tables
            ],
            "charts": [
                {
                    "id": f"chart-{r.key.replace('.', '-').replace('/', '-')}",
                    "title": t["comparison_rate_chart"] if r.key.startswith("per_1000") else r.label,
                    "description": t["comparison_chart"].format(
                        label=t["comparison_rate_chart"] if r.key.startswith("per_1000") else r.label, unit=r.unit
                    ),
                    "chart": charts.horizontal_bars(
                        [(c.label, f.value, shown(f)) for c, f in zip(cols, r.figures, strict=True)],
                        width=640,
                        label_width=240,
                    ),
                }
                for r in _charted(report, lang)
            ],
        }
    return UI.render(request, "gateway/comparison.html", context, user=caller, nav=_nav(request, lang))


@router.get("/submissions/{submission_id}/comparison.csv")
async def comparison_csv(request: Request, submission_id: str) -> Response:
    """Every figure of the comparison statistics, one a line (``comparison_view.to_csv``)."""
    caller = await UI.caller(request)
    try:
        report = await service.comparison(gateway_context(request), caller, submission_id)
    except Problem as problem:
        raise (_not_found() if problem.status == 404 else PageError(problem.status, "error_not_found")) from None
    return csv_download(to_csv(report), f"sammenligning-{report.municipality}-{report.year}.csv")


def _figure_text(t: dict[str, str]) -> Any:
    def shown(figure: ComparisonFigure) -> str:
        if figure.value is not None:
            return f"{figure.value:g}"
        return t[
            {"suppressed": "figure_suppressed", "no-register": "figure_no_register"}.get(
                figure.note or "", "figure_no_data"
            )
        ]

    return shown


def _row(row: Row, shown: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "unit": row.unit,
        "cells": [{"text": shown(f), "note": f.note or ""} for f in row.figures],
    }


def _age_rows(report: ComparisonReport, lang: Lang) -> list[Row]:
    """Recipients of any service per 1,000 inhabitants, a row per age group."""
    out = []
    for age in AGE_COLUMNS:
        row = next(r for r in per_1000_rows(report, age, lang) if r.key == f"per_1000.0.{age}")
        label = ("alle aldre" if lang == "nb" else "all ages") if age == "all" else age
        out.append(Row(row.key, label, row.unit, row.figures))
    return out


def _charted(report: ComparisonReport, lang: Lang) -> list[Row]:
    """The figures drawn as charts too: recipients of any service per 1,000, and the key figures that have one."""
    rows = [r for r in per_1000_rows(report, "all", lang) if r.key == "per_1000.0.all"]
    keys = ("share_80_plus", "share_long_term", "hours_median.15", "days_to_decision_median", "score_mean.home")
    rows += [r for r in indicator_rows(report, lang) if r.key in keys]
    return rows


def _page_number(request: Request, findings: int) -> int:
    """The findings page asked for (``?page=N``), within the pages there are (1 for anything else)."""
    raw = request.query_params.get("page", "1")
    last = max(1, -(-findings // FINDINGS_PER_PAGE))
    return min(int(raw), last) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def _pages(request: Request, submission_id: str, lang: str, page: int, findings: int) -> dict[str, Any] | None:
    """Links to the previous and the next page of findings, and where this page is; None when one page holds all."""
    last = max(1, -(-findings // FINDINGS_PER_PAGE))
    if last == 1:
        return None

    def href(number: int) -> str:
        return UI.href(request, f"{HOME}/{submission_id}", lang, page=number) + "#report-heading"

    return {
        "page": page,
        "last": last,
        "previous": href(page - 1) if page > 1 else None,
        "next": href(page + 1) if page < last else None,
    }


@router.get("/submissions/{submission_id}/findings.csv")
async def findings_csv(request: Request, submission_id: str) -> Response:
    """Every finding of the control report, one a line, with the control's title and rule: for a spreadsheet, or the
    care-record system's people who correct the records."""
    caller = await UI.caller(request)
    try:
        report = await service.report(gateway_context(request), caller, submission_id)
    except Problem as problem:
        raise (_not_found() if problem.status == 404 else PageError(problem.status, "error_not_found")) from None
    header = ["brukerNr", "kontroll", "alvorlighet", "tittel", "felt", "detalj", "regel"]
    rows = (
        [f.bruker_nr or "", f.code, f.severity, f.title, f.field or "", f.detail or "", _RULES.get(f.code, "")]
        for f in report.findings
    )
    return csv_download(csv_text(header, rows), f"funn-{report.municipality}-{report.year}-{submission_id[:8]}.csv")


def _report_page(report: ControlReport) -> dict[str, Any]:
    return report.model_dump(mode="json", by_alias=True)


@router.post("/submissions/{submission_id}/confirm-replacement")
async def confirm_replacement(request: Request, submission_id: str) -> Response:
    return await _form_action(
        request, submission_id, service.confirm_replacement, "confirm_refused_plain", "confirm-refused"
    )


@router.post("/submissions/{submission_id}/retry")
async def retry(request: Request, submission_id: str) -> Response:
    return await _form_action(request, submission_id, service.retry, "retry_refused_plain", "retry-refused", retried=1)


async def _form_action(
    request: Request, submission_id: str, use_case: UseCase, refused: str, testid: str, **params: Any
) -> Response:
    """A form posted to a submission's page: from this site only, with the session's form token
    (``WebUI.check_form``), then the API's own use case, then back to the submission's page."""
    caller = await UI.caller(request)
    require_small_body(request)
    async with request.form(max_files=0, max_fields=2, max_part_size=1024) as form:
        UI.check_form(request, form.get(FORM_TOKEN_FIELD))
    try:
        await use_case(gateway_context(request), caller, submission_id)
    except Problem as problem:
        # An unknown (or another municipality's) submission as such, any other refusal as the action refused.
        raise (_not_found() if problem.status == 404 else PageError(409, refused, testid=testid)) from None
    target = UI.href(request, f"{HOME}/{submission_id}", language_of(request), **params)
    return security_headers(RedirectResponse(target, status_code=303))
