"""The gateway's pages on server-side sessions, in process through the real gateway app (its SQLite database, its
credentials file): a copied cookie stops at sign-out, a session ends when idle, at its absolute lifetime and with
its credential's removal from the file (across a restart), and every form (upload, retry, sign-out) needs the
session's form token and this site. Sign-in and sign-out are in the service log by credential name only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from services.kit.credentials import Credential, hash_token, load_credentials, write_credentials
from services.kit.web import FORM_TOKEN_FIELD, SessionStore
from tests.badinput.conftest import TestClient
from tests.gateway.test_metrics import TOKENS, A, as_, running_gateway, settled
from tests.gateway.test_metrics import state as state
from tests.pages import SAME_ORIGIN, sign_in, signed_in_token

COOKIE = "iplos_gateway_session"
LIST = "/pages/submissions"


def _signed_in(gateway: TestClient, who: str = A) -> str:
    """Sign ``gateway``'s client in as ``who``; the session's form token."""
    assert sign_in(gateway, "/pages", TOKENS[who]).status_code == 303
    return signed_in_token(gateway, LIST)


def _copy(gateway: TestClient) -> TestClient:
    stolen = TestClient(gateway.app)
    stolen.cookies.set(COOKIE, gateway.cookies[COOKIE])
    return stolen


def _submissions(gateway: TestClient) -> list[str]:
    listed = gateway.get("/v1/submissions", headers=as_("operator")).json()["submissions"]
    return [row["submission_id"] for row in listed]


def _upload(gateway: TestClient, state: Path, form: dict[str, str], headers: dict[str, str]) -> object:
    with (state / f"{A}.xml").open("rb") as handle:
        return gateway.post(
            f"{LIST}/upload",
            data=form,
            files={"export": (f"{A}.xml", handle, "application/xml")},
            headers=headers,
            follow_redirects=False,
        )


def test_a_copied_cookie_stops_working_at_sign_out(state: Path) -> None:
    with running_gateway(state, "sessions-sign-out") as gateway:
        form_token = _signed_in(gateway)
        stolen = _copy(gateway)
        assert stolen.get(LIST).status_code == 200
        refused = gateway.post("/pages/sign-out", data={}, headers=SAME_ORIGIN, follow_redirects=False)
        assert refused.status_code == 403  # no form token: nobody is signed out by a forged post
        assert stolen.get(LIST).status_code == 200
        out = gateway.post(
            "/pages/sign-out", data={FORM_TOKEN_FIELD: form_token}, headers=SAME_ORIGIN, follow_redirects=False
        )
        assert out.status_code == 303
        assert stolen.get(LIST, follow_redirects=False).status_code == 303
        assert gateway.get(LIST, follow_redirects=False).status_code == 303


def test_sessions_end_when_idle_and_at_their_absolute_lifetime(state: Path) -> None:
    with running_gateway(state, "sessions-expiry", session_idle_timeout_s=600, session_max_age_s=3600) as gateway:
        store: SessionStore = gateway.app.state.web_sessions  # type: ignore[attr-defined]
        now = dt.datetime.now(dt.UTC)
        store.now = lambda: now
        _signed_in(gateway)
        now += dt.timedelta(seconds=599)
        assert gateway.get(LIST).status_code == 200
        now += dt.timedelta(seconds=600)
        assert gateway.get(LIST, follow_redirects=False).status_code == 303  # idle for the whole timeout

        _signed_in(gateway)
        for _ in range(7):  # busy: a page every 9 minutes, past the hour
            now += dt.timedelta(minutes=9)
            status = gateway.get(LIST, follow_redirects=False).status_code
        assert status == 303  # ended at 60 minutes however busy


def test_a_credential_removed_from_the_file_ends_its_sessions(state: Path, tmp_path: Path) -> None:
    credentials = tmp_path / "gateway.json"
    write_credentials(credentials, load_credentials(state / "gateway.json"))
    with running_gateway(state, "sessions-removed", credentials_file=credentials) as gateway:
        _signed_in(gateway, A)
        municipality = gateway.cookies[COOKIE]
        _signed_in(gateway, "operator")
        operator = gateway.cookies[COOKIE]
    kept = [c for c in load_credentials(credentials) if c.name != "a"]
    write_credentials(credentials, kept)
    with running_gateway(state, "sessions-removed", credentials_file=credentials) as gateway:
        gateway.cookies.set(COOKIE, municipality)
        assert gateway.get(LIST, follow_redirects=False).status_code == 303
        gateway.cookies.set(COOKIE, operator)
        assert gateway.get(LIST).status_code == 200  # the others' sessions go on across the restart
    # A new token under the same name is another credential: the old one's sessions do not pass to it.
    write_credentials(credentials, [Credential("operator", "operator", hash_token("iplos_rotated"))])
    with running_gateway(state, "sessions-removed", credentials_file=credentials) as gateway:
        gateway.cookies.set(COOKIE, operator)
        assert gateway.get(LIST, follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        (lambda good: {}, SAME_ORIGIN),
        (lambda good: {FORM_TOKEN_FIELD: "0" * 64}, SAME_ORIGIN),
        (lambda good: {FORM_TOKEN_FIELD: good}, {"Sec-Fetch-Site": "cross-site"}),
        (lambda good: {FORM_TOKEN_FIELD: good}, {"Origin": "null"}),
        (lambda good: {FORM_TOKEN_FIELD: good}, {}),
    ],
    ids=["no-token", "wrong-token", "cross-site", "origin-null", "no-origin"],
)
def test_an_upload_without_the_form_token_or_from_elsewhere_is_refused_and_stores_nothing(
    state: Path, form: Callable[[str], dict[str, str]], headers: dict[str, str]
) -> None:
    with running_gateway(state, "sessions-upload") as gateway:
        good = _signed_in(gateway)
        before = _submissions(gateway)
        refused = _upload(gateway, state, form(good), headers)
        assert refused.status_code == 403  # type: ignore[attr-defined]
        assert 'data-testid="cross-site"' in refused.text or 'data-testid="form-token"' in refused.text  # type: ignore[attr-defined]
        assert _submissions(gateway) == before


def test_an_upload_and_a_retry_with_the_form_token_go_through(state: Path) -> None:
    with running_gateway(state, "sessions-forms") as gateway:
        good = _signed_in(gateway)
        sent = _upload(gateway, state, {FORM_TOKEN_FIELD: good}, SAME_ORIGIN)
        assert sent.status_code == 303, sent.text  # type: ignore[attr-defined]
        submission_id = sent.headers["location"].split(f"{LIST}/", 1)[1].split("?", 1)[0]  # type: ignore[attr-defined]
        assert settled(gateway, submission_id)["state"] == "dead-letter"  # no TPF here
        retry = f"{LIST}/{submission_id}/retry"
        assert gateway.post(retry, data={}, headers=SAME_ORIGIN).status_code == 403
        assert gateway.post(retry, data={FORM_TOKEN_FIELD: good}, headers={}).status_code == 403
        assert settled(gateway, submission_id)["attempts"] == 1  # nothing was put back
        done = gateway.post(retry, data={FORM_TOKEN_FIELD: good}, headers=SAME_ORIGIN, follow_redirects=False)
        assert done.status_code == 303


def test_sign_in_and_sign_out_are_logged_by_credential_name_never_token_or_session(state: Path) -> None:
    with running_gateway(state, "sessions-log") as gateway:
        good = _signed_in(gateway)
        session_id = gateway.cookies[COOKIE]
        assert sign_in(gateway, "/pages", "iplos_not-a-token").status_code == 401
        assert sign_in(gateway, "/pages", TOKENS[A], headers={"Origin": "null"}).status_code == 403
        assert gateway.post(f"{LIST}/upload", data={}, headers=SAME_ORIGIN).status_code == 403
        gateway.post("/pages/sign-out", data={FORM_TOKEN_FIELD: good}, headers=SAME_ORIGIN)
    text = (state / "sessions-log" / "logs" / "gateway.log").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    events = [
        (line["event"], line.get("credential"), line.get("reason")) for line in lines if line.get("logger") == "web"
    ]
    assert events == [
        ("signed in", "a", None),
        ("sign-in refused", None, "credential"),
        ("sign-in refused", None, "cross-site"),
        ("page form refused", None, "form-token"),
        ("signed out", "a", None),
    ]
    [refused] = [line for line in lines if line.get("event") == "page form refused"]
    assert refused["route"] == "/pages/submissions/upload"  # the route, as the access log names it
    assert TOKENS[A] not in text
    assert session_id not in text
    assert "iplos_not-a-token" not in text
