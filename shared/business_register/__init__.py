"""The Central Coordinating Register for Legal Entities (Enhetsregisteret) as the registry takes it: its units
(``BusinessUnit``), read from Brønnøysundregistrene's bulk files as served (``read_units``: CSV or JSON, gzipped or
not, main units or sub-units) and written in the same formats for the synthetic extract. The columns taken, and
why, are in docs/business-register.md."""

from shared.business_register._read import BusinessRegisterInvalid, read_units
from shared.business_register._write import write_units_csv, write_units_json
from shared.business_register.model import CARE_INDUSTRIES, BusinessUnit, UnitKind, is_care_industry

__all__ = [
    "CARE_INDUSTRIES",
    "BusinessRegisterInvalid",
    "BusinessUnit",
    "UnitKind",
    "is_care_industry",
    "read_units",
    "write_units_csv",
    "write_units_json",
]
