"""The columns of Brønnøysundregistrene's bulk files that the registry takes, by the name each has in the CSV
header and the path it has in the JSON objects (the CSV flattens the JSON with dots), with the spellings the
files have used over the years. Every other column is read past (docs/business-register.md lists them all).
"""

from __future__ import annotations

from typing import Final

from shared.business_register.model import UnitKind

#: What a unit's field is called in each kind's file, in order of preference; the CSV header is matched without
#: regard to case. ``None``: the kind has no such column.
COLUMNS: Final[dict[str, dict[UnitKind, tuple[str, ...]]]] = {
    "org_nr": {UnitKind.ENHET: ("organisasjonsnummer",), UnitKind.UNDERENHET: ("organisasjonsnummer",)},
    "name": {UnitKind.ENHET: ("navn",), UnitKind.UNDERENHET: ("navn",)},
    "org_form": {UnitKind.ENHET: ("organisasjonsform.kode",), UnitKind.UNDERENHET: ("organisasjonsform.kode",)},
    "industry": {UnitKind.ENHET: ("naeringskode1.kode",), UnitKind.UNDERENHET: ("naeringskode1.kode",)},
    "municipality": {
        UnitKind.ENHET: ("forretningsadresse.kommunenummer",),
        UnitKind.UNDERENHET: ("beliggenhetsadresse.kommunenummer",),
    },
    "registered_on": {
        UnitKind.ENHET: ("registreringsdatoEnhetsregisteret", "registreringsdatoIEnhetsregisteret"),
        UnitKind.UNDERENHET: ("registreringsdatoIEnhetsregisteret", "registreringsdatoEnhetsregisteret"),
    },
    # An enhet leaves the bulk file when deleted: slettedato is in the single-unit API's answer for a deleted
    # unit (and in files made from it); an underenhet closed down keeps its nedleggelsesdato.
    "deleted_on": {UnitKind.ENHET: ("slettedato",), UnitKind.UNDERENHET: ("nedleggelsesdato", "slettedato")},
    "parent": {UnitKind.ENHET: ("overordnetEnhet",), UnitKind.UNDERENHET: ("overordnetEnhet",)},
}

#: The columns a file of each kind must have (the rest may be missing or empty).
REQUIRED: Final = ("org_nr", "industry", "municipality")

#: The column that tells a CSV's kind: only that kind's file has it.
KIND_COLUMN: Final = {
    UnitKind.ENHET: "forretningsadresse.kommunenummer",
    UnitKind.UNDERENHET: "beliggenhetsadresse.kommunenummer",
}

#: Keys that only one kind's JSON objects have (the enhet's flags are in every enhet object).
KIND_KEYS: Final = {
    UnitKind.ENHET: frozenset({"forretningsadresse", "konkurs", "underAvvikling", "institusjonellSektorkode"}),
    UnitKind.UNDERENHET: frozenset({"beliggenhetsadresse", "oppstartsdato", "nedleggelsesdato", "datoEierskifte"}),
}

#: The full headers of Brønnøysundregistrene's CSV files (/enhetsregisteret/api/{enheter,underenheter}/lastned/csv),
#: in their order: the synthetic extract is written with them, so that it reads like the real file.
CSV_HEADER: Final = {
    UnitKind.ENHET: (
        "organisasjonsnummer", "navn", "organisasjonsform.kode", "organisasjonsform.beskrivelse",
        "naeringskode1.kode", "naeringskode1.beskrivelse", "naeringskode2.kode", "naeringskode2.beskrivelse",
        "naeringskode3.kode", "naeringskode3.beskrivelse", "hjelpeenhetskode.kode", "hjelpeenhetskode.beskrivelse",
        "harRegistrertAntallAnsatte", "antallAnsatte", "hjemmeside", "postadresse.adresse", "postadresse.poststed",
        "postadresse.postnummer", "postadresse.kommune", "postadresse.kommunenummer", "postadresse.land",
        "postadresse.landkode", "forretningsadresse.adresse", "forretningsadresse.poststed",
        "forretningsadresse.postnummer", "forretningsadresse.kommune", "forretningsadresse.kommunenummer",
        "forretningsadresse.land", "forretningsadresse.landkode", "institusjonellSektorkode.kode",
        "institusjonellSektorkode.beskrivelse", "sisteInnsendteAarsregnskap", "registreringsdatoEnhetsregisteret",
        "stiftelsesdato", "registrertIMvaRegisteret", "frivilligMvaRegistrertBeskrivelser",
        "registrertIFrivillighetsregisteret", "registrertIForetaksregisteret", "registrertIStiftelsesregisteret",
        "konkurs", "konkursdato", "underAvvikling", "underAvviklingDato",
        "underTvangsavviklingEllerTvangsopplosning", "tvangsopplostPgaManglendeDagligLederDato",
        "tvangsopplostPgaManglendeRevisorDato", "tvangsopplostPgaManglendeRegnskapDato",
        "tvangsopplostPgaMangelfulltStyreDato", "tvangsavvikletPgaManglendeSlettingDato", "overordnetEnhet",
        "maalform", "vedtektsdato", "vedtektsfestetFormaal", "aktivitet",
    ),
    UnitKind.UNDERENHET: (
        "organisasjonsnummer", "navn", "organisasjonsform.kode", "organisasjonsform.beskrivelse",
        "naeringskode1.kode", "naeringskode1.beskrivelse", "naeringskode2.kode", "naeringskode2.beskrivelse",
        "naeringskode3.kode", "naeringskode3.beskrivelse", "hjelpeenhetskode.kode", "hjelpeenhetskode.beskrivelse",
        "harRegistrertAntallAnsatte", "antallAnsatte", "hjemmeside", "postadresse.adresse", "postadresse.poststed",
        "postadresse.postnummer", "postadresse.kommune", "postadresse.kommunenummer", "postadresse.land",
        "postadresse.landkode", "beliggenhetsadresse.adresse", "beliggenhetsadresse.poststed",
        "beliggenhetsadresse.postnummer", "beliggenhetsadresse.kommune", "beliggenhetsadresse.kommunenummer",
        "beliggenhetsadresse.land", "beliggenhetsadresse.landkode", "registreringsdatoIEnhetsregisteret",
        "frivilligMvaRegistrertBeskrivelser", "registrertIMvaregisteret", "oppstartsdato", "datoEierskifte",
        "overordnetEnhet", "nedleggelsesdato",
    ),
}  # fmt: skip
