"""The pages: a list of submissions and one submission's detail, rendered from the API's own documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.kit.credentials import Credential
from services.kit.problems import Problem
from services.kit.web import (
    KIT_LABELS,
    NavItem,
    PageError,
    WebUI,
    is_cross_site,
    language_of,
    make_environment,
    merge_labels,
    security_headers,
)
from services.municipality_gateway import confirmation, feedback, outbox
from services.municipality_gateway.pages.i18n import LABELS

PREFIX: Final = "/pages"
STATIC_PATH: Final = "/static/gateway"
HOME: Final = f"{PREFIX}/submissions"
# Operators see every municipality's; a municipality's token its own (the same rule as the API).
ROLES: Final = frozenset({"operator", "municipality"})
# A control report can name every person of a municipality; a page lists the first ones (the JSON has them all).
FINDINGS_SHOWN: Final = 500

UI: Final = WebUI(
    templates=make_environment(Path(__file__).parent / "templates"),
    labels=merge_labels(KIT_LABELS, LABELS),
    get_credentials=lambda request: request.app.state.gateway.credentials,
    roles=ROLES,
    prefix=PREFIX,
    home=HOME,
    static_paths=(f"{STATIC_PATH}/gateway.css",),
    # Its own name: the registry's dashboard on the same host (another port) keeps its sign-in apart.
    cookie="iplos_gateway_token",
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _ctx(request: Request) -> Any:
    return request.app.state.gateway


def _nav(request: Request, lang: str) -> list[NavItem]:
    return [NavItem(UI.labels[lang]["nav_submissions"], UI.href(request, HOME, lang), True, "nav-submissions")]


def hops(row: dict[str, Any]) -> list[dict[str, str]]:
    """Where a submission is, per hop: done, waiting, failed or not reached, with what to say about it."""
    state, receipt = row["state"], row["receipt"] or {}
    settled = state in ("stored", "held", "refused")
    stopped = state in ("rejected", "dead-letter")
    tpf: dict[str, str]
    if settled:
        tpf = {"status": "done", "text": "hop_tpf_passed"}
    elif state == "forwarded":
        tpf = {"status": "done", "text": "hop_tpf_forwarded"}
    elif stopped:
        tpf = {"status": "failed", "text": "hop_tpf_failed"}
    else:
        tpf = {"status": "waiting", "text": "hop_tpf_queued"}
    if state == "stored":
        registry = {"status": "done", "text": "hop_registry_stored"}
    elif state == "refused":
        registry = {"status": "failed", "text": "hop_registry_refused"}
    elif state == "held":
        registry = {"status": "waiting", "text": "hop_registry_held"}
    elif state == "forwarded":
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
    caller = UI.credential(request)
    lang = language_of(request)
    raw_year = request.query_params.get("year", "")
    year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 else None
    rows = await run_in_threadpool(outbox.list_all, _ctx(request).engine, caller.municipality, None)
    years = sorted({row["year"] for row in rows}, reverse=True)
    shown = [row | {"hops": hops(row)} for row in rows if year is None or row["year"] == year]
    for row in shown:
        row["href"] = UI.href(request, f"{HOME}/{row['submission_id']}", lang)
    t = UI.labels[lang]
    scope = t["scope_own"].format(municipality=caller.municipality) if caller.municipality else t["scope_all"]
    context = {"rows": shown, "years": years, "year": year, "scope": scope, "action": UI.href(request, HOME, "nb")}
    return UI.render(request, "gateway/submissions.html", context, user=caller, nav=_nav(request, lang))


def _own(caller: Credential, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None or not caller.acts_for(row["municipality"]):
        raise PageError(404, "error_not_found", testid="not-found")  # another municipality's: as if unknown
    return row


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(request: Request, submission_id: str) -> HTMLResponse:
    caller = UI.credential(request)
    lang = language_of(request)
    ctx = _ctx(request)
    row = _own(caller, await run_in_threadpool(outbox.get, ctx.engine, submission_id))
    report: dict[str, Any] | None = None
    report_problem: str | None = None
    if row["state"] == "stored":
        stored = await run_in_threadpool(feedback.submission_row, ctx.engine, submission_id)
        try:
            report = await feedback.report_of(ctx, stored)
        except Problem as problem:
            report_problem = problem.title
    context = {
        "s": row,
        "hops": hops(row),
        "receipt_json": json.dumps(row["receipt"], indent=2, sort_keys=True) if row["receipt"] else None,
        "report": report,
        "report_problem": report_problem,
        "findings_shown": (report or {}).get("findings", [])[:FINDINGS_SHOWN],
        "retryable": row["state"] in ("rejected", "dead-letter"),
        "retry_action": UI.href(request, f"{HOME}/{submission_id}/retry", lang),
        "retried": request.query_params.get("retried") == "1",
        "confirmable": row["state"] == "held",
        "confirm_action": UI.href(request, f"{HOME}/{submission_id}/confirm-replacement", lang),
        "back_href": UI.href(request, HOME, lang),
    }
    return UI.render(request, "gateway/submission.html", context, user=caller, nav=_nav(request, lang))


async def _action_target(request: Request, submission_id: str) -> tuple[Credential, dict[str, Any]]:
    """For a form posted to a submission's page: the caller and the submission, once the form came from this site
    (no cross-site post) and the submission is the caller's own (else 404, as if unknown)."""
    caller = UI.credential(request)
    if is_cross_site(request):
        raise PageError(403, "error_forbidden", testid="forbidden")
    return caller, _own(caller, await run_in_threadpool(outbox.get, _ctx(request).engine, submission_id))


@router.post("/submissions/{submission_id}/confirm-replacement")
async def confirm_replacement(request: Request, submission_id: str) -> Response:
    caller, row = await _action_target(request, submission_id)
    try:
        await confirmation.confirm_for(_ctx(request), row, caller.name)
    except Problem:
        raise PageError(409, "confirm_refused_plain", testid="confirm-refused") from None
    target = UI.href(request, f"{HOME}/{submission_id}", language_of(request))
    return security_headers(RedirectResponse(target, status_code=303))


@router.post("/submissions/{submission_id}/retry")
async def retry(request: Request, submission_id: str) -> Response:
    await _action_target(request, submission_id)
    ctx = _ctx(request)
    try:
        await run_in_threadpool(outbox.requeue, ctx.engine, ctx.outbox_dir, submission_id, ctx.audit)
    except Problem:
        raise PageError(409, "retry_refused_plain", testid="retry-refused") from None
    ctx.worker.wake()
    target = UI.href(request, f"{HOME}/{submission_id}", language_of(request), retried=1)
    return security_headers(RedirectResponse(target, status_code=303))
