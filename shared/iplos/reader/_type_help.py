"""What each simple type of the export schema asks for, in English and Norwegian (bokmål), for the sentences of
``check_export``: "<orgNr> of person brukerNr 17 must be an organisation number of nine digits".

One entry per simple type of ``iplos-export-1.xsd`` that is not an enumeration (an enumeration's sentence lists its
values, read from the schema). ``tests/shared/test_export_check.py`` holds the table to the schema: a new type
without a sentence fails there, not in front of a municipality.
"""

from __future__ import annotations

from typing import Final

from shared.iplos.schema import enumerations

TYPE_HELP: Final[dict[str, tuple[str, str]]] = {
    "aarType": ("a year from 2000 to 2100", "et årstall fra 2000 til 2100"),
    "brukerNrType": (
        "1 to 20 letters (A-Z), digits or hyphens",
        "1 til 20 bokstaver (A-Z), sifre eller bindestreker",
    ),
    "bydelNrType": ("a bydelsnummer of six digits", "et bydelsnummer på seks sifre"),
    "datoType": ("a date written YYYY-MM-DD", "en dato skrevet ÅÅÅÅ-MM-DD"),
    "diagnosekodeType": (
        "a diagnosis code of capital letters, digits, '.' and '-', at most 10 characters",
        "en diagnosekode av store bokstaver, sifre, '.' og '-', høyst 10 tegn",
    ),
    "epostType": ("an e-mail address of at most 254 characters", "en e-postadresse på høyst 254 tegn"),
    "fidVerdiType": ("an identity number of 11 digits", "et identitetsnummer på 11 sifre"),
    "guidType": (
        "a GUID of 32 hexadecimal digits written 8-4-4-4-12",
        "en GUID på 32 heksadesimale sifre skrevet 8-4-4-4-12",
    ),
    "jaNeiType": ("true or false", "true eller false"),
    "kodeType": ("a code, a whole number from 0 to 99", "en kode, et heltall fra 0 til 99"),
    "kommuneNrType": ("a kommunenummer of four digits", "et kommunenummer på fire sifre"),
    "orgNrType": ("an organisation number of nine digits", "et organisasjonsnummer på ni sifre"),
    "skaarType": ("a score, a whole number from 0 to 9", "en skår, et heltall fra 0 til 9"),
    "tekstType": (
        "a text of 1 to 100 characters that does not start or end with a space",
        "en tekst på 1 til 100 tegn som ikke begynner eller slutter med mellomrom",
    ),
    "telefonType": (
        "a telephone number of digits, spaces and hyphens, with + first if need be",
        "et telefonnummer av sifre, mellomrom og bindestreker, eventuelt med + først",
    ),
    "timerType": (
        "a number of hours with a decimal point, at most 8 digits and 3 after the point (for example 7.5)",
        "et antall timer med desimalpunktum, høyst 8 sifre og 3 etter punktum (for eksempel 7.5)",
    ),
    "tjenesteIDType": (
        "1 to 40 letters (A-Z), digits or the signs _ . : -",
        "1 til 40 bokstaver (A-Z), sifre eller tegnene _ . : -",
    ),
    "tjenesteTypeType": ("a service type, a whole number from 0 to 999", "en tjenestetype, et heltall fra 0 til 999"),
}


def type_help(type_name: str) -> tuple[str, str] | None:
    """(English, Norwegian) noun phrase for what a value of ``type_name`` must be, or None for a type unknown here."""
    listed = enumerations().get(type_name)
    if listed is not None:
        values = ", ".join(listed)
        return f"one of {values}", f"en av {values}"
    return TYPE_HELP.get(type_name)
