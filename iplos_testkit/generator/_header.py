"""The export's header: a message GUID, the care-record system, Oslo's city district, a fictitious contact."""

from __future__ import annotations

import random
import uuid

from shared.iplos.model import FORMAT_VERSION, Contact, ExportHeader

_OSLO_DISTRICTS = tuple(f"0301{n:02d}" for n in range(1, 18))
_CONTACT_FIRST_NAMES = ("Kari", "Ola", "Ingrid", "Per", "Anne", "Lars", "Marit", "Knut", "Silje", "Jonas", "Åse")
_CONTACT_SURNAMES = ("Testesen", "Prøvesen", "Eksempelsen", "Fiktivsen", "Syntetisen", "Demostad")
_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "Ae", "Ø": "O", "Å": "A"})

# (EPJ name, supplier, version) of the systems Norwegian municipalities use.
_EPJ_SYSTEMS = (
    ("Gerica", "Tietoevry", "7.4.2"),
    ("Profil", "Visma", "2024.3"),
    ("CosDoc", "CGM", "5.12"),
    ("Visma Flyt Omsorg", "Visma", "1.18"),
)


def _contact(municipality: str, rng: random.Random) -> Contact:
    """An obviously fictitious contact person: made-up surname, a 0-prefixed number, a ``.example`` address."""
    first, last = rng.choice(_CONTACT_FIRST_NAMES), rng.choice(_CONTACT_SURNAMES)
    digits = f"0{rng.randrange(10)}{rng.randrange(10**6):06d}"
    telefon = f"+47 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"
    epost = f"{first}.{last}@k{municipality}.kommune.example".translate(_ASCII).lower()
    return Contact(navn=f"{first} {last}", telefon=telefon, epost=epost)


def draw_header(municipality: str, year: int, rng: random.Random, variant: random.Random | None) -> ExportHeader:
    """The header, drawn first from the export's generator; ``variant`` (a resubmission's own generator) gives
    the new message GUID."""
    # Drawn from the base generator even for a variant, so that the base persons' draws do not shift.
    guid_bits = rng.getrandbits(128)
    if variant is not None:
        guid_bits = variant.getrandbits(128)  # a resubmission is a new message
    guid = str(uuid.UUID(int=guid_bits, version=4))
    navn, leverandor, versjon = rng.choice(_EPJ_SYSTEMS)
    bydel: str | None = None
    if municipality == "0301":
        bydel = rng.choice(_OSLO_DISTRICTS) if rng.random() < 0.95 else "030199"  # 99: uoppgitt
    return ExportHeader(
        melding_guid=guid,
        format_version=FORMAT_VERSION,
        navn_epj=navn,
        leverandor=leverandor,
        versjon_epj=versjon,
        rapporteringsaar=year,
        kommune_nr=municipality,
        bydel_nr=bydel,
        kontaktperson=_contact(municipality, rng),
    )
