"""A unit of the Central Coordinating Register for Legal Entities (Enhetsregisteret), as the registry keeps it: the
few facts the IPLOS controls need of the unit that performed a service (docs/business-register.md).

Organisation numbers and units are public data (Brønnøysundregistrene publishes them under NLOD); a sole
proprietorship's name can still be a person's name, so no error message or log line carries a name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["CARE_INDUSTRIES", "BusinessUnit", "UnitKind", "is_care_industry"]


class UnitKind(StrEnum):
    """A main unit (enhet: a legal entity, such as a municipality or a company) or a sub-unit (underenhet: an
    establishment where the activity happens, such as a nursing home). Each has its own bulk file."""

    ENHET = "enhet"
    UNDERENHET = "underenhet"


#: The industry codes (SN2007 / SN2025, naeringskode1) of a health or care activity: section Q (86 health
#: services, 87 care in institutions, 88 social care without accommodation) and 84.12 (public administration of
#: health and social services, where municipalities register their allocation offices). Prefixes of the code.
CARE_INDUSTRIES: Final = ("86.", "87.", "88.", "84.12")


def is_care_industry(code: str) -> bool:
    """True for an industry code of a health or care activity (``CARE_INDUSTRIES``)."""
    return code.startswith(CARE_INDUSTRIES)


@dataclass(frozen=True, slots=True)
class BusinessUnit:
    """One unit of the register.

    ``municipality`` is where the unit is: the business address (forretningsadresse) of an enhet, the location
    address (beliggenhetsadresse) of an underenhet; None for an address abroad or none. ``deleted_on`` is the
    register's deletion date (slettedato) or, for an underenhet, the date it was closed down (nedleggelsesdato);
    None for a live unit. ``parent`` is the overordnetEnhet (an underenhet's enhet, an enhet's parent
    organisation)."""

    org_nr: str
    kind: UnitKind
    name: str
    org_form: str | None
    industry: str | None
    municipality: str | None
    registered_on: dt.date | None
    deleted_on: dt.date | None
    parent: str | None
