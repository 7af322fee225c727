"""``ControlRunner``: the catalogue run over one submission while the registry streams its records, keeping only
what the cross-record rules need (the pseudonyms seen, each ``tjenesteID`` with its first decision date)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Protocol

from shared.exact_keys import ExactKeys
from shared.iplos.controls._catalogue import (
    ASSESSMENT_AFTER_YEAR,
    BIRTH_YEAR_IMPLAUSIBLE,
    COERCION_START_AFTER_END,
    CONFLICTING_DECISIONS,
    DATE_BEFORE_1900,
    DEATH_AFTER_YEAR,
    DECISION_AFTER_START,
    DECISION_BEFORE_APPLICATION,
    DISTRICT_MISMATCH,
    DISTRICT_NOT_EXPECTED,
    DUPLICATE_PERSON,
    DUPLICATE_SERVICE_ID,
    HOURS_MISSING,
    HOURS_NOT_APPLICABLE,
    HOURS_OUT_OF_RANGE,
    HOUSEHOLD_UNKNOWN,
    HOUSING_UNKNOWN,
    IDENTITY_REFUSED,
    LONG_TERM_OVERLAP,
    MUNICIPALITY_INVALID,
    MUNICIPALITY_NOT_SIGNER,
    ORG_NR_INVALID,
    ORG_NR_MISSING,
    ORG_NR_NOT_APPLICABLE,
    OUTSIDE_YEAR,
    REFUSAL_OR_COMPLAINT_AFTER_YEAR,
    SCORE_INVALID,
    SCORE_REPEATED,
    SERVICE_AFTER_DEATH,
    SERVICE_TYPE_UNKNOWN,
    START_AFTER_END,
)
from shared.iplos.controls._reference import (
    DISTRICT_MUNICIPALITIES,
    EARLIEST_DATE,
    HOURLY_SERVICES,
    IDENTITY_OK,
    LONG_TERM_STAY,
    MAX_AGE,
    MAX_HOURS_PER_WEEK,
    NO_ORG_NR_SERVICES,
    OSLO_DISTRICTS,
    org_nr_is_valid,
)
from shared.iplos.model import (
    HOUSEHOLD_TYPES,
    HOUSING_TYPES,
    SERVICE_TYPES,
    VALID_SCORES,
    ExportHeader,
    Finding,
    PayloadRecord,
    Service,
)
from shared.iplos.municipalities import NoMunicipalityList, successors_2024, valid_municipalities

_STATUS_CODE = re.compile(r"[a-z]{1,20}(?:-[a-z]{1,20}){0,3}")  # a rule name, never digits


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _sid(service: Service) -> str:
    return f"tjenesteID {_short(service.tjeneste_id)}"


class _Add(Protocol):
    """The signature of ``check``'s local ``add``."""

    def __call__(self, code: str, field: str | None, detail: str | None = None) -> None: ...


def _overlaps(a: Service, b: Service) -> bool:
    # Inclusive dates; an open end lasts for ever.
    a_before_b_ends = b.end_date is None or a.start_date <= b.end_date
    b_before_a_ends = a.end_date is None or b.start_date <= a.end_date
    return a_before_b_ends and b_before_a_ends


class ControlRunner:
    """Runs the catalogue over one submission, streaming.

    ``header`` is the submission's message header and ``signer_municipality`` the municipality whose
    signature the registry verified. Call ``submission_findings()`` once, and ``check()`` once per record in
    submission order: the cross-record rules (``K006`` duplicate person, ``K029``/``K030`` repeated tjenesteID)
    report the second and later occurrences. Memory grows with the number of distinct pseudonyms and
    tjenesteIDs (about 40 bytes each, in :class:`ExactKeys`), not with the records. ``expected_records``, the
    declared count, sizes that state at once.
    """

    def __init__(self, header: ExportHeader, *, signer_municipality: str, expected_records: int = 0) -> None:
        self._header = header
        self._signer = signer_municipality
        self._year = header.rapporteringsaar
        self._year_start = dt.date(self._year, 1, 1)
        self._year_end = dt.date(self._year, 12, 31)
        # Both grow with the submission, so in flat buffers (about a third of a set's or dict's memory), exact.
        # ``expected_records`` (the declared count, if known) sizes them at once: growing rehashes every entry.
        self._pseudonyms = ExactKeys(expected_records)
        # tjenesteID (as UTF-8, one entry per distinct service of the whole submission) -> decision date of its
        # first occurrence, as its ordinal in 4 bytes (0: none)
        self._decisions = ExactKeys(2 * expected_records)  # about two services a person

    # ----------------------------------------------------------------------------------- submission

    def submission_findings(self) -> list[Finding]:
        """The header-level findings: municipality valid for the year and equal to the signer, bydelNr."""
        header = self._header
        kommune = header.kommune_nr
        findings: list[Finding] = []
        try:
            valid = kommune in valid_municipalities(self._year)
        except NoMunicipalityList:
            findings.append(Finding(MUNICIPALITY_INVALID, None, "kommuneNr", f"ingen kommuneliste for {self._year}"))
        else:
            if not valid:
                findings.append(
                    Finding(MUNICIPALITY_INVALID, None, "kommuneNr", f"{_short(kommune)} finnes ikke i {self._year}")
                )
        if kommune != self._signer and not (self._year <= 2023 and self._signer in successors_2024(kommune)):
            findings.append(
                Finding(
                    MUNICIPALITY_NOT_SIGNER,
                    None,
                    "kommuneNr",
                    f"kommuneNr {_short(kommune)}, signert av {_short(self._signer)}",
                )
            )
        district = header.bydel_nr
        if district is not None:
            if kommune not in DISTRICT_MUNICIPALITIES:
                findings.append(
                    Finding(DISTRICT_NOT_EXPECTED, None, "bydelNr", f"bydelNr {_short(district)} for {_short(kommune)}")
                )
            elif not self._district_belongs(district, kommune):
                findings.append(
                    Finding(DISTRICT_MISMATCH, None, "bydelNr", f"bydelNr {_short(district)} for {kommune}")
                )
        return findings

    @staticmethod
    def _district_belongs(district: str, kommune: str) -> bool:
        if len(district) != 6 or not (district.isascii() and district.isdigit()):
            return False
        if kommune == "0301":
            return district in OSLO_DISTRICTS
        return district[:4] == kommune and district[4:] != "00"

    # ----------------------------------------------------------------------------------------- record

    def check(self, record: PayloadRecord, pseudonym: bytes | None, identity_status: str) -> list[Finding]:
        """The findings for one record, in a stable order. ``pseudonym`` is None exactly when the TPF refused
        the identity number, and ``identity_status`` is then its refusal rule (``"ok"`` otherwise)."""
        if (pseudonym is None) == (identity_status == IDENTITY_OK):
            raise ValueError("pseudonym and identity status disagree")
        ref = record.ref
        out: list[Finding] = []

        def add(code: str, field: str | None, detail: str | None = None) -> None:
            out.append(Finding(code, ref, field, detail))

        # Identity.
        if pseudonym is None:
            status = identity_status if _STATUS_CODE.fullmatch(identity_status) else "ukjent"
            add(IDENTITY_REFUSED, "fid", f"avvist: {status}")
        elif self._pseudonyms.add(pseudonym) is not None:
            add(DUPLICATE_PERSON, "fid")
        if record.birth_year is not None and (
            record.birth_year > self._year or self._year - record.birth_year >= MAX_AGE
        ):
            add(BIRTH_YEAR_IMPLAUSIBLE, "fodselsaar", f"født {record.birth_year}")

        # Every date before 1900 (the paths are spelled only for a record that has one).
        if _earliest(record) < EARLIEST_DATE:
            for field, date in _dates(record):
                if date < EARLIEST_DATE:
                    add(DATE_BEFORE_1900, field, date.isoformat())

        # Background.
        background = record.background
        if background.death_date is not None and background.death_date > self._year_end:
            add(DEATH_AFTER_YEAR, "bakgrunn.dodsdato", background.death_date.isoformat())
        if background.housing is not None and background.housing not in HOUSING_TYPES:
            add(HOUSING_UNKNOWN, "bakgrunn.bolig", f"kode {background.housing}")
        if background.household is not None and background.household not in HOUSEHOLD_TYPES:
            add(HOUSEHOLD_UNKNOWN, "bakgrunn.husstand", f"kode {background.household}")
        for field, assessed in (
            ("bakgrunn.vurdertAvLege", background.assessed_by_doctor),
            ("bakgrunn.vurdertAvTannhelse", background.assessed_by_dentist),
        ):
            if assessed is not None and assessed > self._year_end:
                add(ASSESSMENT_AFTER_YEAR, field, assessed.isoformat())

        # Function scores.
        variables: set[str] = set()
        year_end = self._year_end
        for i, score in enumerate(record.function_scores, 1):
            variable = score.variable
            if score.score not in VALID_SCORES:
                add(SCORE_INVALID, f"funksjon[{i}].skaar", f"{_short(variable)}: {score.score}")
            if variable in variables:
                add(SCORE_REPEATED, f"funksjon[{i}].variabel", _short(variable))
            else:
                variables.add(variable)
            if score.date > year_end:
                add(ASSESSMENT_AFTER_YEAR, f"funksjon[{i}].dato", f"{_short(variable)}: {score.date}")

        # Services.
        for i, service in enumerate(record.services, 1):
            self._check_service(service, f"tjenester[{i}]", add)
        if sum(s.tjeneste_type == LONG_TERM_STAY for s in record.services) > 1:
            for i, service in enumerate(record.services, 1):
                if service.tjeneste_type != LONG_TERM_STAY:
                    continue
                earlier = record.services[: i - 1]
                if any(e.tjeneste_type == LONG_TERM_STAY and _overlaps(e, service) for e in earlier):
                    add(LONG_TERM_OVERLAP, f"tjenester[{i}]", _sid(service))
        if background.death_date is not None:
            for i, service in enumerate(record.services, 1):
                if service.start_date > background.death_date:
                    add(
                        SERVICE_AFTER_DEATH,
                        f"tjenester[{i}].startdato",
                        f"{_sid(service)}: {service.start_date} > {background.death_date}",
                    )

        # Refusals and complaints.
        for i, refusal in enumerate(record.refusals, 1):
            if refusal.tjeneste_type not in SERVICE_TYPES:
                add(SERVICE_TYPE_UNKNOWN, f"avslag[{i}].tjenesteType", f"type {refusal.tjeneste_type}")
            if refusal.application_date is not None and refusal.decision_date < refusal.application_date:
                add(
                    DECISION_BEFORE_APPLICATION,
                    f"avslag[{i}].vedtaksdato",
                    f"{refusal.decision_date} < {refusal.application_date}",
                )
            if refusal.decision_date > self._year_end:
                add(REFUSAL_OR_COMPLAINT_AFTER_YEAR, f"avslag[{i}].vedtaksdato", refusal.decision_date.isoformat())
        for i, complaint in enumerate(record.complaints, 1):
            if complaint.tjeneste_type not in SERVICE_TYPES:
                add(SERVICE_TYPE_UNKNOWN, f"klager[{i}].tjenesteType", f"type {complaint.tjeneste_type}")
            if complaint.complaint_date > self._year_end:
                add(REFUSAL_OR_COMPLAINT_AFTER_YEAR, f"klager[{i}].klagedato", complaint.complaint_date.isoformat())

        # Coercion.
        for i, coercion in enumerate(record.coercion, 1):
            if coercion.end_date is not None and coercion.start_date > coercion.end_date:
                add(
                    COERCION_START_AFTER_END,
                    f"tvang[{i}].startdato",
                    f"vedtak {_short(coercion.vedtak_id)}: {coercion.start_date} > {coercion.end_date}",
                )
        return out

    def _check_service(self, service: Service, path: str, add: _Add) -> None:
        # Each check reads the tjenesteID's text (``_sid``) only when it has a finding to describe.
        start, end = service.start_date, service.end_date
        if end is not None and start > end:
            add(START_AFTER_END, f"{path}.startdato", f"{_sid(service)}: {start} > {end}")
        if start > self._year_end or (end is not None and end < self._year_start):
            add(OUTSIDE_YEAR, f"{path}.startdato", f"{_sid(service)}: {start} – {'' if end is None else end}")
        decision = service.decision_date
        if decision is not None and decision > start:
            add(DECISION_AFTER_START, f"{path}.vedtaksdato", f"{_sid(service)}: {decision} > {start}")
        if decision is not None and service.application_date is not None and decision < service.application_date:
            add(
                DECISION_BEFORE_APPLICATION,
                f"{path}.vedtaksdato",
                f"{_sid(service)}: {decision} < {service.application_date}",
            )

        kind = service.tjeneste_type
        if kind not in SERVICE_TYPES:
            add(SERVICE_TYPE_UNKNOWN, f"{path}.tjenesteType", f"{_sid(service)}: type {kind}")
        else:
            hours = service.hours_per_week
            if kind in HOURLY_SERVICES:
                if hours is None:
                    add(HOURS_MISSING, f"{path}.timerPerUke", _sid(service))
                elif not 0 < hours <= MAX_HOURS_PER_WEEK:  # also false for NaN
                    add(HOURS_OUT_OF_RANGE, f"{path}.timerPerUke", f"{_sid(service)}: {hours:g}")
            elif hours is not None:
                add(HOURS_NOT_APPLICABLE, f"{path}.timerPerUke", f"{_sid(service)}: {hours:g}")
            org = service.org_nr
            if kind in NO_ORG_NR_SERVICES:
                if org is not None:
                    add(ORG_NR_NOT_APPLICABLE, f"{path}.orgNr", _sid(service))
            elif org is None:
                add(ORG_NR_MISSING, f"{path}.orgNr", _sid(service))
            elif not _valid_org_nr(org):
                add(ORG_NR_INVALID, f"{path}.orgNr", f"{_sid(service)}: {_short(org, 12)}")

        # Repeated tjenesteID, across the whole submission.
        key = service.tjeneste_id.encode("utf-8", "surrogatepass")  # one bytes value per text, and back
        found = self._decisions.add(
            key, b"\0\0\0\0" if decision is None else decision.toordinal().to_bytes(4, "little")
        )
        if found is not None:
            first_day = int.from_bytes(found, "little")
            if first_day and decision is not None and first_day != decision.toordinal():
                first = dt.date.fromordinal(first_day)
                add(CONFLICTING_DECISIONS, f"{path}.vedtaksdato", f"{_sid(service)}: {decision}, først {first}")
            else:
                add(DUPLICATE_SERVICE_ID, f"{path}.tjenesteID", _sid(service))


#: Organisation numbers already judged: an export names a few hundred performing units in thousands of services.
#: Bounded, like every cache of what a payload spells.
_ORG_NRS: dict[str, bool] = {}
_MAX_ORG_NRS = 10_000


def _valid_org_nr(number: str) -> bool:
    valid = _ORG_NRS.get(number)
    if valid is None:
        valid = org_nr_is_valid(number)
        if len(_ORG_NRS) >= _MAX_ORG_NRS:
            _ORG_NRS.clear()
        _ORG_NRS[number] = valid
    return valid


def _earliest(record: PayloadRecord) -> dt.date:
    """The record's earliest date (``dt.date.max`` if it has none): what :func:`_dates` would yield, without the
    field paths."""
    earliest = dt.date.max
    for score in record.function_scores:
        if score.date < earliest:
            earliest = score.date
    for service in record.services:
        for value in (service.application_date, service.decision_date, service.start_date, service.end_date):
            if value is not None and value < earliest:
                earliest = value
    background = record.background
    for value in (background.death_date, background.assessed_by_doctor, background.assessed_by_dentist):
        if value is not None and value < earliest:
            earliest = value
    for refusal in record.refusals:
        if refusal.application_date is not None and refusal.application_date < earliest:
            earliest = refusal.application_date
        if refusal.decision_date < earliest:
            earliest = refusal.decision_date
    for complaint in record.complaints:
        if complaint.complaint_date < earliest:
            earliest = complaint.complaint_date
    for coercion in record.coercion:
        for value in (coercion.decision_date, coercion.start_date, coercion.end_date):
            if value is not None and value < earliest:
                earliest = value
    return earliest


def _dates(record: PayloadRecord) -> Iterator[tuple[str, dt.date]]:
    """Every date in the record with its field path, in a stable order."""
    for i, score in enumerate(record.function_scores, 1):
        yield f"funksjon[{i}].dato", score.date
    for i, service in enumerate(record.services, 1):
        path = f"tjenester[{i}]"
        for name, value in (
            ("soknadsdato", service.application_date),
            ("vedtaksdato", service.decision_date),
            ("startdato", service.start_date),
            ("sluttdato", service.end_date),
        ):
            if value is not None:
                yield f"{path}.{name}", value
    background = record.background
    for name, value in (
        ("dodsdato", background.death_date),
        ("vurdertAvLege", background.assessed_by_doctor),
        ("vurdertAvTannhelse", background.assessed_by_dentist),
    ):
        if value is not None:
            yield f"bakgrunn.{name}", value
    for i, refusal in enumerate(record.refusals, 1):
        if refusal.application_date is not None:
            yield f"avslag[{i}].soknadsdato", refusal.application_date
        yield f"avslag[{i}].vedtaksdato", refusal.decision_date
    for i, complaint in enumerate(record.complaints, 1):
        yield f"klager[{i}].klagedato", complaint.complaint_date
    for i, coercion in enumerate(record.coercion, 1):
        yield f"tvang[{i}].vedtaksdato", coercion.decision_date
        yield f"tvang[{i}].startdato", coercion.start_date
        if coercion.end_date is not None:
            yield f"tvang[{i}].sluttdato", coercion.end_date
