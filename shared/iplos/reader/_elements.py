"""The export's element names in Clark notation (``{namespace}local``), computed once: tag comparison is the
inner loop of the reader. With the two helpers every part of the reader uses on an element."""

from __future__ import annotations

from lxml import etree

from shared.iplos.schema import q

ROOT = q("iplosMelding")
HEADER = q("meldingshode")
PERSON = q("person")
GUID = q("meldingGUID")
EPJ = q("epj")
NAVN_EPJ = q("navnEPJ")
LEVERANDOR = q("leverandor")
VERSJON_EPJ = q("versjonEPJ")
AAR = q("rapporteringsaar")
KOMMUNE = q("kommuneNr")
BYDEL = q("bydelNr")
KONTAKTPERSON = q("kontaktperson")
NAVN = q("navn")
TELEFON = q("telefon")
EPOST = q("epost")
BRUKER_NR = q("brukerNr")
FID = q("fid")
BAKGRUNN = q("bakgrunn")
FUNKSJON = q("funksjon")
DIAGNOSER = q("diagnoser")
TJENESTER = q("tjenester")
AVSLAG = q("avslag")
KLAGER = q("klager")
TVANG = q("tvang")
SOKNADSDATO = q("soknadsdato")
VEDTAKSDATO = q("vedtaksdato")
STARTDATO = q("startdato")
SLUTTDATO = q("sluttdato")
TIMER = q("timerPerUke")
ORG_NR = q("orgNr")
BOLIG = q("bolig")
HUSSTAND = q("husstand")
PRIVAT_HJELP = q("privatHjelp")
KOMMUNIKASJON = q("tilrettelagtKommunikasjon")
DODSDATO = q("dodsdato")
LEGE = q("vurdertAvLege")
TANNHELSE = q("vurdertAvTannhelse")
PLAN = q("individuellPlan")
KLAGEDATO = q("klagedato")
UTFALL = q("utfall")


def local_name(name: str) -> str:
    """``iplosMelding`` for ``{namespace}iplosMelding``."""
    return name.rsplit("}", 1)[-1]


def source_line(element: etree._Element) -> int:
    """The line the element starts on, or 0 when lxml does not know."""
    line: object = element.sourceline  # lxml-stubs leave it untyped
    return line if isinstance(line, int) else 0
