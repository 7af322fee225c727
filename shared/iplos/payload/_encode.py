"""Encoding: the header, record and trailer lines the gateway writes while it reads an export once, and the
registry's view of a person (``to_payload``)."""

from __future__ import annotations

import datetime as dt
import json
import math

from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    ExportHeader,
    PayloadRecord,
    PersonRecord,
    Sex,
)
from shared.iplos.payload._format import PAYLOAD_FORMAT


def _dumps(value: object) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON, and a decoder in another language would choke.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8") + b"\n"


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def encode_header(header: ExportHeader) -> bytes:
    """The header line (with its ``\\n``)."""
    contact = header.kontaktperson
    return _dumps(
        {
            "bydelNr": header.bydel_nr,
            "format": PAYLOAD_FORMAT,
            "formatVersjon": header.format_version,
            "kommuneNr": header.kommune_nr,
            "kontaktperson": None
            if contact is None
            else {"epost": contact.epost, "navn": contact.navn, "telefon": contact.telefon},
            "leverandor": header.leverandor,
            "meldingGUID": header.melding_guid,
            "navnEPJ": header.navn_epj,
            "rapporteringsaar": header.rapporteringsaar,
            "versjonEPJ": header.versjon_epj,
        }
    )


def encode_trailer(record_count: int) -> bytes:
    """The trailer line: how many record lines precede it."""
    if record_count < 0:
        raise ValueError("record_count must not be negative")
    return _dumps({"antall": record_count})


def _code(value: str, allowed: dict[str, str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} is not in its code list")
    return value


def encode_record(record: PayloadRecord) -> bytes:
    """One record line (with its ``\\n``): sorted keys, compact separators. Raises ``ValueError`` for what the
    decoder would refuse (non-finite hours, a code outside its list)."""
    services = []
    for s in record.services:
        hours = None
        if s.hours_per_week is not None:
            hours = float(s.hours_per_week)
            if not math.isfinite(hours):
                raise ValueError("hours per week must be finite")
        services.append(
            [
                s.tjeneste_id,
                s.tjeneste_type,
                _code(s.event_type, EVENT_TYPES, "hendelse"),
                _iso(s.application_date),
                _iso(s.decision_date),
                s.start_date.isoformat(),
                _iso(s.end_date),
                hours,
                s.org_nr,
            ]
        )
    b = record.background
    return _dumps(
        {
            "a": [[r.tjeneste_type, _iso(r.application_date), r.decision_date.isoformat()] for r in record.refusals],
            "b": [
                b.housing,
                b.household,
                b.unpaid_help,
                b.assisted_communication,
                _iso(b.death_date),
                _iso(b.assessed_by_doctor),
                _iso(b.assessed_by_dentist),
                b.individual_plan,
            ],
            "d": [[str(d.system), d.code] for d in record.diagnoses],
            "f": [[f.variable, f.score, f.date.isoformat()] for f in record.function_scores],
            "fa": record.birth_year,
            "ft": str(record.fid_type),
            "k": None if record.sex is None else str(record.sex),
            "kl": [
                [
                    c.tjeneste_type,
                    c.complaint_date.isoformat(),
                    None if c.outcome is None else _code(c.outcome, COMPLAINT_OUTCOMES, "utfall"),
                ]
                for c in record.complaints
            ],
            "ref": record.ref,
            "t": services,
            "tv": [
                [
                    c.vedtak_id,
                    _code(c.legal_basis, COERCION_BASES, "hjemmel"),
                    c.decision_date.isoformat(),
                    c.start_date.isoformat(),
                    _iso(c.end_date),
                ]
                for c in record.coercion
            ],
        }
    )


def to_payload(person: PersonRecord, ref: str, birth_year: int | None, sex: Sex | None) -> PayloadRecord:
    """The registry's view of a person: the identity number and ``brukerNr`` dropped, a reference and the
    birth year and sex (derived from the number by the gateway) added."""
    return PayloadRecord(
        ref=ref,
        birth_year=birth_year,
        sex=sex,
        fid_type=person.fid_type,
        function_scores=person.function_scores,
        diagnoses=person.diagnoses,
        services=person.services,
        background=person.background,
        refusals=person.refusals,
        complaints=person.complaints,
        coercion=person.coercion,
    )
