"""Tests for shared.iplos.controls (the catalogue and the streaming runner) and shared.iplos.municipalities."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
import setuptools

from iplos_testkit.generator import generate_records
from shared import fnr
from shared.iplos import controls as c
from shared.iplos.controls import CATALOGUE, ControlRunner, control, org_nr_is_valid, render_markdown
from shared.iplos.model import (
    Coercion,
    Complaint,
    ExportHeader,
    FidType,
    Finding,
    FunctionScore,
    PayloadRecord,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
    Severity,
    Sex,
)
from shared.iplos.municipalities import (
    NoMunicipalityList,
    municipality_name,
    successors_2024,
    valid_municipalities,
)
from shared.iplos.payload import to_payload

ROOT = Path(__file__).resolve().parents[2]
YEAR = 2025
ORG = "926018159"  # valid mod 11
D = dt.date

# ------------------------------------------------------------------------------------------- builders


def header(kommune: str = "0301", year: int = YEAR, bydel: str | None = None) -> ExportHeader:
    return ExportHeader(
        melding_guid="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        format_version="1.0",
        navn_epj="Gerica",
        leverandor="Tietoevry",
        versjon_epj="7.4.2",
        rapporteringsaar=year,
        kommune_nr=kommune,
        bydel_nr=bydel,
    )


def service(ref: str = "r1", n: int = 1, **changes: object) -> Service:
    base = Service(
        tjeneste_id=f"{ref}-{n}",
        tjeneste_type=15,
        decision_date=D(2025, 1, 10),
        start_date=D(2025, 1, 15),
        end_date=None,
        hours_per_week=3.5,
        org_nr=ORG,
        application_date=D(2025, 1, 2),
        event_type="N",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def record(ref: str = "r1", **changes: object) -> PayloadRecord:
    base = PayloadRecord(
        ref=ref,
        birth_year=1940,
        sex=Sex.FEMALE,
        fid_type=FidType.FNR,
        function_scores=(
            FunctionScore("hukommelse", 3, D(2025, 3, 1)),
            FunctionScore("syn", 9, D(2025, 3, 1)),
        ),
        diagnoses=(),
        services=(service(ref),),
        background=PersonBackground(
            housing=1, household=2, unpaid_help=True, assessed_by_doctor=D(2025, 2, 1), individual_plan=False
        ),
        refusals=(Refusal(1, D(2025, 2, 1), D(2025, 2, 20)),),
        complaints=(Complaint(1, D(2025, 3, 1), "medhold"),),
        coercion=(Coercion("V-1", "HOL9", D(2025, 4, 1), D(2025, 4, 2), D(2025, 6, 1)),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def background(**changes: object) -> PersonBackground:
    return dataclasses.replace(record().background, **changes)  # type: ignore[arg-type]


def pseudonym(ref: str) -> bytes:
    return hashlib.sha256(ref.encode()).digest()


Input = tuple[PayloadRecord, bytes | None, str]


def ok(*records: PayloadRecord) -> list[Input]:
    return [(r, pseudonym(r.ref), "ok") for r in records]


def run(inputs: list[Input], kommune: str = "0301") -> list[list[Finding]]:
    runner = ControlRunner(header(kommune), signer_municipality=kommune)
    return [runner.check(*item) for item in inputs]


# --------------------------------------------------------------------------------------------- catalogue


def test_codes_are_unique_sequential_and_named() -> None:
    codes = [entry.code for entry in CATALOGUE]
    assert codes == [f"K{n:03d}" for n in range(1, len(codes) + 1)]
    named = {value for name, value in vars(c).items() if name.isupper() and isinstance(value, str) and value[:1] == "K"}
    assert named == set(codes)


# Published codes never change meaning: a new control gets the next number, a withdrawn one keeps its code.
PUBLISHED = {
    "K001": "MUNICIPALITY_INVALID",
    "K002": "MUNICIPALITY_NOT_SIGNER",
    "K003": "DISTRICT_NOT_EXPECTED",
    "K004": "DISTRICT_MISMATCH",
    "K005": "IDENTITY_REFUSED",
    "K006": "DUPLICATE_PERSON",
    "K007": "BIRTH_YEAR_IMPLAUSIBLE",
    "K008": "DATE_BEFORE_1900",
    "K009": "DEATH_AFTER_YEAR",
    "K010": "HOUSING_UNKNOWN",
    "K011": "HOUSEHOLD_UNKNOWN",
    "K012": "ASSESSMENT_AFTER_YEAR",
    "K013": "SCORE_INVALID",
    "K014": "SCORE_REPEATED",
    "K015": "SERVICE_TYPE_UNKNOWN",
    "K016": "START_AFTER_END",
    "K017": "OUTSIDE_YEAR",
    "K018": "DECISION_AFTER_START",
    "K019": "DECISION_BEFORE_APPLICATION",
    "K020": "HOURS_OUT_OF_RANGE",
    "K021": "HOURS_MISSING",
    "K022": "HOURS_NOT_APPLICABLE",
    "K023": "ORG_NR_MISSING",
    "K024": "ORG_NR_INVALID",
    "K025": "ORG_NR_NOT_APPLICABLE",
    "K026": "LONG_TERM_OVERLAP",
    "K027": "SERVICE_AFTER_DEATH",
    "K028": "DUPLICATE_SERVICE_ID",
    "K029": "CONFLICTING_DECISIONS",
    "K030": "REFUSAL_OR_COMPLAINT_AFTER_YEAR",
    "K031": "COERCION_START_AFTER_END",
    "K032": "NOT_RESIDENT",
    "K033": "SERVICE_AFTER_REGISTER_DEATH",
    "K034": "DIFFERS_FROM_REGISTER",
    "K035": "UNKNOWN_TO_REGISTER",
    "K040": "NEVER_RESIDENT",
}


def test_published_codes_keep_their_meaning() -> None:
    for code, name in PUBLISHED.items():
        assert getattr(c, name) == code
        assert control(code).code == code


def test_every_control_has_a_title_a_rule_and_a_scope() -> None:
    for entry in CATALOGUE:
        assert entry.severity in (Severity.ERROR, Severity.WARNING)
        assert entry.title
        assert "\n" not in entry.title
        assert len(entry.title) <= 70
        assert entry.rule.endswith(".")
        assert entry.scope == ("submission" if entry.code <= "K004" else "record")
    assert control("K016").title == "Startdato etter sluttdato"
    with pytest.raises(KeyError):
        control("K999")


def test_docs_controls_md_is_generated_from_the_catalogue() -> None:
    committed = (ROOT / "docs" / "controls.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), (
        "docs/controls.md differs from the catalogue: regenerate it with "
        "`.venv/bin/python -m shared.iplos.controls > docs/controls.md`"
    )
    for entry in CATALOGUE:
        assert f"| {entry.code} | {entry.severity.value} |" in committed


def test_org_nr_check() -> None:
    assert org_nr_is_valid(ORG)
    assert not org_nr_is_valid(ORG[:8] + str((int(ORG[8]) + 1) % 10))
    assert not org_nr_is_valid(ORG[:8])
    assert not org_nr_is_valid("92601815x")
    assert not org_nr_is_valid("٩٢٦٠١٨١٥٩")  # Arabic-Indic digits are not ASCII digits


# ------------------------------------------------------------------------------ record controls, table


def stays(first_end: dt.date | None, second_start: dt.date) -> PayloadRecord:
    return record(
        services=(
            service(
                n=1,
                tjeneste_type=21,
                hours_per_week=None,
                start_date=D(2024, 5, 1),
                decision_date=None,
                end_date=first_end,
            ),
            service(n=2, tjeneste_type=21, hours_per_week=None, start_date=second_start, decision_date=second_start),
        )
    )


# (code, case name, passing inputs, failing inputs). The failing inputs' last record must give exactly one
# finding with that code, every earlier record none; the passing inputs (a boundary value where there is one)
# give nothing at all.
CASES: list[tuple[str, str, Callable[[], list[Input]], Callable[[], list[Input]]]] = [
    ("K005", "refused", lambda: ok(record()), lambda: [(record(birth_year=None, sex=None), None, "check-digit")]),
    (
        "K006",
        "same pseudonym",
        lambda: ok(record("a"), record("b")),
        lambda: [(record("a"), pseudonym("x"), "ok"), (record("b"), pseudonym("x"), "ok")],
    ),
    ("K007", "future", lambda: ok(record(birth_year=YEAR)), lambda: ok(record(birth_year=YEAR + 1))),
    ("K007", "125", lambda: ok(record(birth_year=YEAR - 124)), lambda: ok(record(birth_year=YEAR - 125))),
    (
        "K008",
        "score date",
        lambda: ok(record(function_scores=(FunctionScore("syn", 1, D(1900, 1, 1)),))),
        lambda: ok(record(function_scores=(FunctionScore("syn", 1, D(1899, 12, 31)),))),
    ),
    (
        "K008",
        "start in the 1800s",
        lambda: ok(record(services=(service(start_date=D(1900, 1, 1), decision_date=None, application_date=None),))),
        lambda: ok(record(services=(service(start_date=D(1852, 3, 1), decision_date=None, application_date=None),))),
    ),
    (
        "K009",
        "death",
        lambda: ok(record(background=background(death_date=D(2025, 12, 31)))),
        lambda: ok(record(background=background(death_date=D(2026, 1, 1)))),
    ),
    (
        "K010",
        "housing",
        lambda: ok(record(background=background(housing=9))),
        lambda: ok(record(background=background(housing=7))),
    ),
    (
        "K011",
        "household",
        lambda: ok(record(background=background(household=None))),
        lambda: ok(record(background=background(household=5))),
    ),
    (
        "K012",
        "score date",
        lambda: ok(record(function_scores=(FunctionScore("syn", 1, D(2025, 12, 31)),))),
        lambda: ok(record(function_scores=(FunctionScore("syn", 1, D(2026, 1, 1)),))),
    ),
    (
        "K012",
        "dentist",
        lambda: ok(record(background=background(assessed_by_dentist=D(2025, 12, 31)))),
        lambda: ok(record(background=background(assessed_by_dentist=D(2026, 2, 1)))),
    ),
    (
        "K013",
        "score",
        lambda: ok(record(function_scores=(FunctionScore("syn", 9, D(2025, 3, 1)),))),
        lambda: ok(record(function_scores=(FunctionScore("syn", 6, D(2025, 3, 1)),))),
    ),
    (
        "K013",
        "zero",
        lambda: ok(record(function_scores=(FunctionScore("syn", 1, D(2025, 3, 1)),))),
        lambda: ok(record(function_scores=(FunctionScore("syn", 0, D(2025, 3, 1)),))),
    ),
    (
        "K014",
        "repeated",
        lambda: ok(record()),
        lambda: ok(
            record(function_scores=(FunctionScore("syn", 1, D(2025, 3, 1)), FunctionScore("syn", 2, D(2025, 3, 2))))
        ),
    ),
    (
        "K015",
        "service",
        lambda: ok(record(services=(service(tjeneste_type=29, hours_per_week=None, org_nr=None),))),
        # Hours and an organisation number on an unknown type: the type-dependent rules do not run.
        lambda: ok(record(services=(service(tjeneste_type=10),))),
    ),
    (
        "K015",
        "refusal",
        lambda: ok(record(refusals=(Refusal(29, None, D(2025, 5, 1)),))),
        lambda: ok(record(refusals=(Refusal(99, None, D(2025, 5, 1)),))),
    ),
    (
        "K015",
        "complaint",
        lambda: ok(record(complaints=(Complaint(26, D(2025, 5, 1), None),))),
        lambda: ok(record(complaints=(Complaint(0, D(2025, 5, 1), None),))),
    ),
    (
        "K016",
        "start after end",
        lambda: ok(record(services=(service(end_date=D(2025, 1, 15)),))),
        lambda: ok(record(services=(service(end_date=D(2025, 1, 14)),))),
    ),
    (
        "K017",
        "starts after the year",
        lambda: ok(record(services=(service(start_date=D(2025, 12, 31)),))),
        lambda: ok(record(services=(service(start_date=D(2026, 1, 1)),))),
    ),
    (
        "K017",
        "ended before the year",
        lambda: ok(record(services=(service(start_date=D(2024, 3, 1), decision_date=None, end_date=D(2025, 1, 1)),))),
        lambda: ok(record(services=(service(start_date=D(2024, 3, 1), decision_date=None, end_date=D(2024, 12, 31)),))),
    ),
    (
        "K018",
        "decision after start",
        lambda: ok(record(services=(service(decision_date=D(2025, 1, 15)),))),
        lambda: ok(record(services=(service(decision_date=D(2025, 1, 16)),))),
    ),
    (
        "K019",
        "service",
        lambda: ok(record(services=(service(application_date=D(2025, 1, 10)),))),
        lambda: ok(record(services=(service(application_date=D(2025, 1, 11)),))),
    ),
    (
        "K019",
        "refusal",
        lambda: ok(record(refusals=(Refusal(1, D(2025, 2, 1), D(2025, 2, 1)),))),
        lambda: ok(record(refusals=(Refusal(1, D(2025, 2, 2), D(2025, 2, 1)),))),
    ),
    (
        "K020",
        "over 168",
        lambda: ok(record(services=(service(hours_per_week=168.0),))),
        lambda: ok(record(services=(service(hours_per_week=168.5),))),
    ),
    (
        "K020",
        "zero",
        lambda: ok(record(services=(service(hours_per_week=0.5),))),
        lambda: ok(record(services=(service(hours_per_week=0.0),))),
    ),
    (
        "K020",
        "NaN",
        lambda: ok(record(services=(service(hours_per_week=1.0),))),
        lambda: ok(record(services=(service(hours_per_week=float("nan")),))),
    ),
    (
        "K021",
        "missing",
        lambda: ok(record(services=(service(tjeneste_type=3, hours_per_week=40.0),))),
        lambda: ok(record(services=(service(tjeneste_type=3, hours_per_week=None),))),
    ),
    (
        "K022",
        "not hourly",
        lambda: ok(record(services=(service(tjeneste_type=6, hours_per_week=None),))),
        lambda: ok(record(services=(service(tjeneste_type=6, hours_per_week=2.0),))),
    ),
    (
        "K023",
        "missing",
        lambda: ok(record(services=(service(tjeneste_type=26, hours_per_week=None, org_nr=None),))),
        lambda: ok(record(services=(service(tjeneste_type=6, hours_per_week=None, org_nr=None),))),
    ),
    (
        "K024",
        "check digit",
        lambda: ok(record(services=(service(org_nr=ORG),))),
        lambda: ok(record(services=(service(org_nr=ORG[:8] + "0"),))),
    ),
    (
        "K024",
        "length",
        lambda: ok(record()),
        lambda: ok(record(services=(service(org_nr="92601815"),))),
    ),
    (
        "K025",
        "org for a dwelling",
        lambda: ok(record(services=(service(tjeneste_type=29, hours_per_week=None, org_nr=None),))),
        # Not checked for validity either: it should not be there at all.
        lambda: ok(record(services=(service(tjeneste_type=29, hours_per_week=None, org_nr="123456789"),))),
    ),
    (
        "K026",
        "overlap",
        lambda: ok(stays(D(2025, 3, 31), D(2025, 4, 1))),
        lambda: ok(stays(D(2025, 4, 1), D(2025, 4, 1))),
    ),
    ("K026", "open stay", lambda: ok(stays(D(2025, 3, 31), D(2025, 5, 1))), lambda: ok(stays(None, D(2025, 5, 1)))),
    (
        "K027",
        "after death",
        lambda: ok(record(background=background(death_date=D(2025, 1, 15)))),
        lambda: ok(record(background=background(death_date=D(2025, 1, 14)))),
    ),
    (
        "K028",
        "across records",
        lambda: ok(record("a"), record("b")),
        lambda: ok(record("a"), record("b", services=(service("a"),))),
    ),
    (
        "K028",
        "one decision date missing",
        lambda: ok(record("a"), record("b")),
        lambda: ok(record("a"), record("b", services=(service("a", decision_date=None),))),
    ),
    (
        "K029",
        "two decision dates",
        lambda: ok(record(services=(service(n=1), service(n=2, decision_date=D(2025, 1, 5))))),
        lambda: ok(record(services=(service(n=1), service(n=1, decision_date=D(2025, 1, 5))))),
    ),
    (
        "K030",
        "complaint",
        lambda: ok(record(complaints=(Complaint(1, D(2025, 12, 31), None),))),
        lambda: ok(record(complaints=(Complaint(1, D(2026, 1, 1), None),))),
    ),
    (
        "K030",
        "refusal",
        lambda: ok(record(refusals=(Refusal(1, D(2025, 12, 1), D(2025, 12, 31)),))),
        lambda: ok(record(refusals=(Refusal(1, D(2025, 12, 1), D(2026, 1, 5)),))),
    ),
    (
        "K031",
        "coercion dates",
        lambda: ok(record(coercion=(Coercion("V", "PBRL4A", D(2025, 4, 1), D(2025, 4, 2), D(2025, 4, 2)),))),
        lambda: ok(record(coercion=(Coercion("V", "PBRL4A", D(2025, 4, 1), D(2025, 4, 2), D(2025, 4, 1)),))),
    ),
]


def test_every_record_control_has_a_case() -> None:
    assert {code for code, *_ in CASES} == {
        entry.code for entry in CATALOGUE if entry.scope == "record" and entry.source == "payload"
    }


def test_the_base_record_is_clean() -> None:
    assert run(ok(record())) == [[]]


@pytest.mark.parametrize(
    ("code", "passing", "failing"),
    [pytest.param(code, passing, failing, id=f"{code}-{name}") for code, name, passing, failing in CASES],
)
def test_record_control(code: str, passing: Callable[[], list[Input]], failing: Callable[[], list[Input]]) -> None:
    assert all(findings == [] for findings in run(passing()))
    *earlier, last = run(failing())
    assert all(findings == [] for findings in earlier)
    assert [f.code for f in last] == [code]
    inputs = failing()
    assert last[0].ref == inputs[-1][0].ref
    assert last[0].field is not None


def test_finding_names_the_field_and_the_service() -> None:
    [findings] = run(ok(record(services=(service(), service(n=2, end_date=D(2025, 1, 1))))))
    assert findings == [Finding("K016", "r1", "tjenester[2].startdato", "tjenesteID r1-2: 2025-01-15 > 2025-01-01")]


def test_a_record_can_have_several_findings_in_a_stable_order() -> None:
    bad = record(
        birth_year=1800,
        function_scores=(FunctionScore("syn", 7, D(2025, 3, 1)),),
        services=(service(hours_per_week=None, org_nr=None, end_date=D(2025, 1, 1)),),
    )
    [findings] = run(ok(bad))
    assert [f.code for f in findings] == ["K007", "K013", "K016", "K021", "K023"]


def test_details_never_carry_a_pseudonym_or_identity_number() -> None:
    runner = ControlRunner(header(), signer_municipality="0301")
    secret = pseudonym("same")
    runner.check(record("a"), secret, "ok")
    duplicate = runner.check(record("b", services=(service("b"),)), secret, "ok")
    refused = runner.check(record("c", services=(service("c"),)), None, "check-digit")
    odd_status = runner.check(record("d", services=(service("d"),)), None, "12345678901")
    assert [f.code for f in (*duplicate, *refused, *odd_status)] == ["K006", "K005", "K005"]
    for finding in (*duplicate, *refused, *odd_status):
        text = f"{finding.field} {finding.detail}"
        assert secret.hex() not in text
        assert "12345678901" not in text
    assert refused[0].detail == "avvist: check-digit"
    assert odd_status[0].detail == "avvist: ukjent"


def test_pseudonym_and_identity_status_must_agree() -> None:
    runner = ControlRunner(header(), signer_municipality="0301")
    with pytest.raises(ValueError, match="disagree"):
        runner.check(record(), None, "ok")
    with pytest.raises(ValueError, match="disagree"):
        runner.check(record(), pseudonym("x"), "check-digit")


def test_third_occurrence_of_a_service_is_compared_with_the_first() -> None:
    lines = (service(n=1), service(n=1), service(n=1, decision_date=D(2025, 1, 5)), service(n=1))
    [findings] = run(ok(record(services=lines)))
    assert [(f.code, f.field) for f in findings] == [
        ("K028", "tjenester[2].tjenesteID"),
        ("K029", "tjenester[3].vedtaksdato"),
        ("K028", "tjenester[4].tjenesteID"),
    ]


def test_three_overlapping_stays_report_the_second_and_third() -> None:
    def stay(n: int, start: dt.date) -> Service:
        return service(n=n, tjeneste_type=21, hours_per_week=None, start_date=start, decision_date=start)

    [findings] = run(ok(record(services=(stay(1, D(2025, 1, 15)), stay(2, D(2025, 2, 1)), stay(3, D(2025, 3, 1))))))
    assert [(f.code, f.field) for f in findings] == [("K026", "tjenester[2]"), ("K026", "tjenester[3]")]


# -------------------------------------------------------------------------------- submission controls


@pytest.mark.parametrize(
    ("kommune", "year", "bydel", "signer", "codes"),
    [
        ("0301", 2025, "030101", "0301", []),
        ("0301", 2025, "030117", "0301", []),
        ("0301", 2025, "030199", "0301", []),
        ("4601", 2024, "460101", "4601", []),
        ("1507", 2023, None, "1507", []),
        ("1508", 2024, None, "1508", []),
        ("1580", 2030, None, "1580", []),
        ("5001", 2020, "500104", "5001", []),
        # Valid in the year?
        ("1507", 2024, None, "1507", ["K001"]),
        ("1508", 2023, None, "1508", ["K001"]),
        ("9999", 2025, None, "9999", ["K001"]),
        ("0301", 2019, None, "0301", ["K001"]),
        # The signer's? Old numbers signed with the successor's key are accepted for the years before 2024.
        ("0301", 2025, None, "4601", ["K002"]),
        ("3001", 2023, None, "3101", []),
        ("1507", 2022, None, "1580", []),
        ("1507", 2022, None, "1508", []),
        ("1507", 2022, None, "1101", ["K002"]),
        ("3001", 2024, None, "3101", ["K001", "K002"]),
        # City districts.
        ("1101", 2025, "110101", "1101", ["K003"]),
        ("0301", 2025, "030118", "0301", ["K004"]),
        ("0301", 2025, "030100", "0301", ["K004"]),
        ("4601", 2025, "030101", "4601", ["K004"]),
        ("4601", 2025, "460100", "4601", ["K004"]),
        ("4601", 2025, "46010", "4601", ["K004"]),
    ],
)
def test_submission_controls(kommune: str, year: int, bydel: str | None, signer: str, codes: list[str]) -> None:
    runner = ControlRunner(header(kommune, year, bydel), signer_municipality=signer)
    findings = runner.submission_findings()
    assert [f.code for f in findings] == codes
    assert all(f.ref is None and f.field in ("kommuneNr", "bydelNr") for f in findings)


def test_a_year_without_a_list_says_so() -> None:
    [finding] = ControlRunner(header("0301", 2019), signer_municipality="0301").submission_findings()
    assert finding.detail == "ingen kommuneliste for 2019"


# ---------------------------------------------------------------------------------------- municipalities


def test_municipality_lists() -> None:
    assert len(valid_municipalities(2024)) == 357
    assert len(valid_municipalities(2020)) == 356
    assert valid_municipalities(2021) is valid_municipalities(2023) is valid_municipalities(2020)
    assert valid_municipalities(2031) is valid_municipalities(2024)
    assert "1507" in valid_municipalities(2023)
    assert "1507" not in valid_municipalities(2024)
    for code in ("1508", "1580"):
        assert code in valid_municipalities(2024)
        assert code not in valid_municipalities(2023)
    assert all(re.fullmatch(r"[0-9]{4}", code) for code in valid_municipalities(2020) | valid_municipalities(2024))
    assert municipality_name("0301", 2024) == "Oslo"
    assert municipality_name("1580", 2024) == "Haram"
    assert municipality_name("1507", 2023) == "Ålesund"
    assert municipality_name("1507", 2024) is None
    assert successors_2024("1507") == {"1508", "1580"}
    assert successors_2024("3001") == {"3101"}
    assert successors_2024("0301") == {"0301"}
    assert successors_2024("1508") == frozenset()


def test_years_before_2020_raise() -> None:
    with pytest.raises(NoMunicipalityList, match="2019"):
        valid_municipalities(2019)
    with pytest.raises(NoMunicipalityList):
        municipality_name("0301", 2000)


def test_the_lists_ship_as_package_data_with_their_attribution() -> None:
    data = resources.files("shared.iplos.data")
    for name in ("kommuner-2020.csv", "kommuner-2024.csv", "kommuner-overgang-2024.csv", "README.md"):
        assert data.joinpath(name).is_file()
    readme = data.joinpath("README.md").read_text(encoding="utf-8")
    assert (
        "Inneholder data under Norsk lisens for offentlige data (NLOD) tilgjengeliggjort av Statistisk sentralbyrå "
        "(SSB)" in readme
    )
    # setuptools ships package data only for packages it finds.
    assert "shared.iplos.data" in setuptools.find_packages(str(ROOT), include=["shared*"])
    source = (ROOT / "shared" / "iplos" / "municipalities.py").read_text(encoding="utf-8")
    assert "/work/shared" not in source
    assert "../shared" not in source


# ---------------------------------------------------------------------------------------- clean data


def payload_inputs(persons: Iterator[PersonRecord]) -> Iterator[tuple[PersonRecord, Input]]:
    """The registry's view of generated persons, as the gateway and the TPF would produce it."""
    for index, person in enumerate(persons):
        ref = f"ref-{index}"
        try:
            number = fnr.parse(person.fid)
        except fnr.InvalidIdentityNumber as exc:
            yield person, (to_payload(person, ref, None, None), None, exc.rule)
            continue
        digest = hashlib.sha256(person.fid.encode()).digest()
        yield person, (to_payload(person, ref, number.birth_year, number.sex), digest, "ok")


@pytest.mark.parametrize(
    ("kommune", "year", "seed", "vary"),
    [
        ("0301", 2025, 11, 0),
        ("4601", 2024, 12, 0),
        ("1508", 2030, 13, 0),
        ("3001", 2021, 14, 0),
        ("0301", 2025, 11, 1),
    ],
)
def test_clean_generated_data_has_no_findings(kommune: str, year: int, seed: int, vary: int) -> None:
    head, persons = generate_records(kommune, year, 1500, seed, vary=vary)
    runner = ControlRunner(head, signer_municipality=kommune)
    assert runner.submission_findings() == []
    found: collections.Counter[str] = collections.Counter()
    examples: dict[str, Finding] = {}
    for _, item in payload_inputs(persons):
        for finding in runner.check(*item):
            found[finding.code] += 1
            examples.setdefault(finding.code, finding)
    assert not found, f"clean data tripped controls: {dict(found)}; e.g. {list(examples.values())[:3]}"
