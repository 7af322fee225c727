"""The registry's web pages in a real browser: Debian's Chromium, headless, driven by Playwright.

One chain of three real uvicorn processes for all the browser tests, on which a demo-like run has been
made: four municipalities submit synthetic exports with known faults through the gateway, each with its own
token, and one of them corrects its records and resubmits, so its first submission is replaced.

The browser is the system's ``/usr/bin/chromium`` (``IPLOS_TEST_CHROMIUM`` names another); Playwright never
downloads one of its own. If it is missing, the browser tests are skipped on a developer's machine and fail in
CI (``CI`` set): CI never skips them. ``make browser`` (part of ``make test``) installs it.

``screenshot(page, name)`` saves a full-page PNG to ``test-artifacts/screenshots/NAME.png`` at the repository
root (gitignored; emptied at a session's first screenshot, so it holds one run's); the paths are listed at the
end of the test run and recorded in the test's properties (``user_properties``, in a JUnit XML report).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.faults import FaultKind, inject_faults
from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from tests.tls import trust_chain

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ENV = "IPLOS_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

YEAR = 2025
# The demo's four municipalities, smaller, so the session stays quick: (kommuneNr, persons, seed, share of
# persons with one known fault, the fault kinds or None for all of them in turn). 5001's faults are of two
# kinds only, so those rules have enough persons across the year (5 or more) to be shown unsuppressed.
EXPORTS: list[tuple[str, int, int, float, tuple[FaultKind, ...] | None]] = [
    ("0301", 300, 1000, 0.10, None),
    ("4601", 160, 1001, 0.05, None),
    ("5001", 150, 1002, 0.10, (FaultKind.SCORE_INVALID, FaultKind.HOURS_MISSING)),
    ("1103", 100, 1003, 0.05, None),
]
CORRECTED = "4601"  # corrects its records and resubmits: its first submission is superseded

_saved_screenshots: list[Path] = []


def _write_faulty_export(
    path: Path, nr: str, persons: int, seed: int, rate: float, kinds: tuple[FaultKind, ...] | None
) -> Counter[str]:
    """As ``iplos generate --errors``, with a choice of fault kinds; the injected faults by control code."""
    header, records = generate_records(nr, YEAR, persons, seed)
    rng = random.Random(f"{nr}:{YEAR}:{seed}:faults")
    faulty, key = inject_faults(records, year=YEAR, rate=rate, rng=rng, kinds=kinds)
    write_export(path, header, faulty)
    assert key.complete
    return Counter(code for codes in key.records.values() for code in codes)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@dataclass(frozen=True)
class Submitted:
    municipality: str
    submission_id: str
    faults: Counter[str]
    """The injected faults by control code (the answer key); empty for a corrected export."""


@dataclass
class DemoRun:
    """The chain after the demo-like run, and what was submitted to it."""

    chain: Chain
    year: int
    first: dict[str, Submitted] = field(default_factory=dict)
    resubmitted: dict[str, Submitted] = field(default_factory=dict)

    @property
    def operator_token(self) -> str:
        return self.chain.operator_token

    @property
    def registry(self) -> str:
        return self.chain.url("registry")

    @property
    def gateway(self) -> str:
        return self.chain.url("gateway")

    def active(self) -> dict[str, Submitted]:
        """The submission each municipality has active now."""
        return {**self.first, **self.resubmitted}

    def registry_submissions(self) -> list[dict]:  # type: ignore[type-arg]
        """The registry's operator JSON API, with the operator's bearer token."""
        url = f"{self.registry}/v1/submissions?year={self.year}"
        return list(client.get_json(url, self.operator_token)["submissions"])


# The chain and the browser live as long as this package's tests (scope="package"), not the whole session:
# the processes stop when the browser tests are done, and Playwright's sync API, which keeps an asyncio loop
# marked running in this thread while it is started, is stopped before other tests call asyncio.run().


@pytest.fixture(scope="package")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    state = tmp_path_factory.mktemp("browser-chain")
    ensure_keys(state, [nr for nr, *_ in EXPORTS])
    exports = tmp_path_factory.mktemp("browser-exports")
    ports = {s: free_port() for s in ("gateway", "tpf", "registry")}
    with Chain(state, ports=ports) as chain:
        trust_chain(chain)  # the tests' own calls go over https, checked against the chain's CA
        run = DemoRun(chain, YEAR)
        gateway = chain.url("gateway")
        faults: dict[str, Counter[str]] = {}
        accepted: dict[str, str] = {}
        for nr, persons, seed, rate, kinds in EXPORTS:
            path = exports / f"{nr}-{YEAR}.xml"
            faults[nr] = _write_faulty_export(path, nr, persons, seed, rate, kinds)
            accepted[nr] = client.submit(path, gateway, token=chain.municipality_token(nr))["submission_id"]
        for nr, submission_id in accepted.items():
            final = client.wait_final(gateway, submission_id, 60, token=chain.municipality_token(nr))
            assert final["state"] == "stored", final
            run.first[nr] = Submitted(nr, submission_id, faults[nr])
        # The corrected export: the same seed without the faults, a newer sequence, so it replaces the first.
        persons, seed = next((p, s) for nr, p, s, _, _ in EXPORTS if nr == CORRECTED)
        path = exports / f"{CORRECTED}-{YEAR}-corrected.xml"
        write_synthetic_export(path, CORRECTED, YEAR, persons, seed)
        token = chain.municipality_token(CORRECTED)
        second = client.submit(path, gateway, token=token)["submission_id"]
        final = client.wait_final(gateway, second, 60, token=token)
        assert final["state"] == "stored", final
        assert final["receipt"]["supersedes"] == run.first[CORRECTED].submission_id
        run.resubmitted[CORRECTED] = Submitted(CORRECTED, second, Counter())
        yield run


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        reason = (
            f"Chromium is not installed at {path} (set {CHROMIUM_ENV}, or run `make browser`, which installs "
            "Debian's chromium package)"
        )
        if _in_ci():
            pytest.fail(f"{reason}; CI must run the browser tests", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    # Chromium's sandbox refuses to start as root (CI runs as root); headless on loopback pages only.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies, so every test signs in (or not) itself. The pages are
    served over https with the development CA's certificates, which the browser's profile does not trust: it
    takes them as they are (its own CA store is not this test's to change)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO", ignore_https_errors=True)
    ctx.set_default_timeout(10_000)
    # expect()'s own wait (5 s unless told) is not the context's: the same 10 s for both, for a loaded machine.
    expect.set_options(timeout=10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    yield opened
    opened.close()


def _file_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not cleaned:
        raise ValueError(f"no usable file name in {name!r}")
    return cleaned


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: a full-page PNG in ``test-artifacts/screenshots/NAME.png``; returns its path."""

    def take(page: Page, name: str) -> Path:
        if not _saved_screenshots:  # the session's first: the folder shows this run only
            shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{_file_name(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        request.node.user_properties.append(("screenshot", str(path)))
        _saved_screenshots.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _saved_screenshots:
        terminalreporter.section("browser screenshots")
        for path in _saved_screenshots:
            terminalreporter.write_line(str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path))
