"""Writing units in Brønnøysundregistrene's bulk formats (CSV with the real header, or the JSON array), for the
synthetic extract the demo and the tests load: a file written here is read by ``read_units`` as a real one is."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from typing import IO, Any, Final, cast

from shared.business_register._columns import CSV_HEADER
from shared.business_register.model import BusinessUnit, UnitKind

__all__ = ["write_units_csv", "write_units_json"]

#: Where a file is written: a binary file, or a gzip stream over one (the register serves its files gzipped).
_Out = IO[bytes] | gzip.GzipFile

#: The descriptions the files carry beside the codes the synthetic extract uses (the reader does not need them).
_FORMS: Final = {
    "KOMM": "Kommune",
    "AS": "Aksjeselskap",
    "BEDR": "Underenhet til næringsdrivende og offentlig forvaltning",
    "AAFY": "Underenhet til ikke-næringsdrivende",
    "STI": "Stiftelse",
}
_INDUSTRY_DIVISIONS: Final = {
    "84": "Offentlig administrasjon og forsvar, og trygdeordninger underlagt offentlig forvaltning",
    "86": "Helsetjenester",
    "87": "Pleie- og omsorgstjenester i institusjon",
    "88": "Sosiale omsorgstjenester uten botilbud",
    "47": "Detaljhandel, unntatt med motorvogner",
}


def _fields(unit: BusinessUnit) -> dict[str, str]:
    address = "forretningsadresse" if unit.kind is UnitKind.ENHET else "beliggenhetsadresse"
    registered = (
        "registreringsdatoEnhetsregisteret" if unit.kind is UnitKind.ENHET else ("registreringsdatoIEnhetsregisteret")
    )
    fields = {
        "organisasjonsnummer": unit.org_nr,
        "navn": unit.name,
        "organisasjonsform.kode": unit.org_form or "",
        "organisasjonsform.beskrivelse": _FORMS.get(unit.org_form or "", ""),
        "naeringskode1.kode": unit.industry or "",
        "naeringskode1.beskrivelse": _INDUSTRY_DIVISIONS.get((unit.industry or "")[:2], ""),
        f"{address}.kommunenummer": unit.municipality or "",
        f"{address}.land": "Norge" if unit.municipality else "",
        f"{address}.landkode": "NO" if unit.municipality else "",
        registered: unit.registered_on.isoformat() if unit.registered_on else "",
        "overordnetEnhet": unit.parent or "",
    }
    if unit.kind is UnitKind.UNDERENHET:
        fields["nedleggelsesdato"] = unit.deleted_on.isoformat() if unit.deleted_on else ""
    return fields


def write_units_csv(units: Iterable[BusinessUnit], out: _Out, kind: UnitKind) -> int:
    """Write ``units`` (all of ``kind``) as the kind's CSV file; how many were written. A main unit's deletion date
    is not written: the real file has no column for it (a deleted main unit leaves the file)."""
    text = io.TextIOWrapper(cast(IO[bytes], out), encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    header = CSV_HEADER[kind]
    writer.writerow(header)
    count = 0
    for unit in units:
        if unit.kind is not kind:
            raise ValueError(f"a {unit.kind} in a file of {kind}s")
        fields = _fields(unit)
        writer.writerow([fields.get(name, "") for name in header])
        count += 1
    text.detach()
    return count


def write_units_json(units: Iterable[BusinessUnit], out: _Out, kind: UnitKind) -> int:
    """Write ``units`` (all of ``kind``) as the kind's JSON array, nested as the API nests it."""
    out.write(b"[")
    count = 0
    for unit in units:
        if unit.kind is not kind:
            raise ValueError(f"a {unit.kind} in a file of {kind}s")
        obj: dict[str, Any] = {}
        for path, value in _fields(unit).items():
            if value == "":
                continue
            node = obj
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        if unit.kind is UnitKind.ENHET:
            obj.update(konkurs=False, underAvvikling=False)  # every main unit's object has its flags
            if unit.deleted_on:
                obj["slettedato"] = unit.deleted_on.isoformat()
        out.write((b",\n" if count else b"\n") + json.dumps(obj, ensure_ascii=False).encode())
        count += 1
    out.write(b"\n]\n")
    return count
