"""The code lists and weights the synthetic persons are drawn from: which services are hour-based, stays or
coercion, which diagnoses the old and the younger have and how often, how the function scores lean, which
municipal unit performs which service."""

from __future__ import annotations

from shared.iplos.model import CodeSystem

# No performing unit is reported for GPS and a municipal dwelling.
NO_ORG_NR = frozenset({26, 29})
# Stays measured in days or weeks.
SHORT_STAYS = frozenset({8, 18, 19, 20, 22, 25})
LONG_TERM_STAY = 21
# Coercion services and the law their decisions are made under.
COERCION_BASIS: dict[int, str] = {14: "HOL9", 23: "HOL9", 24: "PBRL4A"}
# Diagnoses of a developmental disability (utviklingshemning: the persons helse- og omsorgstjenesteloven
# kap. 9 is about), and those that often go with a need for assisted communication.
DEVELOPMENTAL = frozenset({"P85", "F71", "Q90.9"})
COMMUNICATION = frozenset({"P85", "F71", "Q90.9", "F84.0", "G80.9"})

# Services measured in hours per week (direct user time: practical help, training, BPA, respite outside an
# institution, support contact, care allowance, home nursing), with the range of hours each gets.
HOURS_RANGE: dict[int, tuple[float, float]] = {
    1: (0.5, 6.0),
    2: (1.0, 5.0),
    3: (5.0, 40.0),
    7: (2.0, 16.0),
    9: (1.0, 6.0),
    11: (2.0, 30.0),
    15: (0.5, 20.0),
}

# Per-variable offsets to the latent need: instrumental tasks (housework, cooking, shopping) are lost before
# personal care; sight and hearing are mostly fine.
SCORE_OFFSET: dict[str, float] = {
    "alminneligHusarbeid": 0.7,
    "lageMat": 0.5,
    "skaffeVarerOgTjenester": 0.6,
    "bevegeSegUtendors": 0.4,
    "ivaretaEgenHelse": 0.3,
    "personligHygiene": 0.0,
    "avOgPakledning": -0.1,
    "toalett": -0.3,
    "spise": -0.6,
    "bevegeSegInnendors": -0.2,
    "sosialDeltakelse": 0.1,
    "beslutningerDagligliv": -0.2,
    "hukommelse": -0.2,
    "styreAtferd": -0.8,
    "kommunikasjon": -0.6,
    "syn": -1.0,
    "horsel": -0.9,
}
DEMENTIA_VARIABLES = frozenset({"hukommelse", "styreAtferd", "beslutningerDagligliv", "ivaretaEgenHelse"})

# (code system, code, dementia?) with rough weights: common conditions of home-care and nursing-home users.
ELDERLY_DIAGNOSES: tuple[tuple[CodeSystem, str, bool, int], ...] = (
    (CodeSystem.ICPC2, "P70", True, 14),  # demens
    (CodeSystem.ICPC2, "K86", False, 8),  # hypertensjon ukomplisert
    (CodeSystem.ICPC2, "K77", False, 7),  # hjertesvikt
    (CodeSystem.ICPC2, "T90", False, 7),  # diabetes type 2
    (CodeSystem.ICPC2, "R95", False, 6),  # KOLS
    (CodeSystem.ICPC2, "L95", False, 5),  # osteoporose
    (CodeSystem.ICPC2, "K90", False, 5),  # hjerneslag
    (CodeSystem.ICPC2, "N87", False, 3),  # parkinsonisme
    (CodeSystem.ICPC2, "L89", False, 3),  # coxartrose
    (CodeSystem.ICPC2, "F84", False, 3),  # makuladegenerasjon
    (CodeSystem.ICPC2, "P76", False, 4),  # depresjon
    (CodeSystem.ICPC2, "L75", False, 3),  # lårhalsbrudd
    (CodeSystem.ICPC2, "K78", False, 5),  # atrieflimmer
    (CodeSystem.ICD10, "F03", True, 6),  # uspesifisert demens
    (CodeSystem.ICD10, "G30.1", True, 4),  # Alzheimers sykdom, sen debut
    (CodeSystem.ICD10, "I63.9", False, 3),  # hjerneinfarkt
    (CodeSystem.ICD10, "E11.9", False, 3),  # diabetes type 2
    (CodeSystem.ICD10, "J44.9", False, 3),  # KOLS
    (CodeSystem.ICD10, "I50.9", False, 3),  # hjertesvikt
    (CodeSystem.ICD10, "S72.0", False, 2),  # lårhalsbrudd
    (CodeSystem.ICD10, "G20", False, 2),  # Parkinsons sykdom
    (CodeSystem.ICD10, "I48.9", False, 2),  # atrieflimmer
)
YOUNGER_DIAGNOSES: tuple[tuple[CodeSystem, str, bool, int], ...] = (
    (CodeSystem.ICPC2, "P72", False, 5),  # schizofreni
    (CodeSystem.ICPC2, "P85", False, 8),  # psykisk utviklingshemming
    (CodeSystem.ICPC2, "N86", False, 3),  # multippel sklerose
    (CodeSystem.ICPC2, "N88", False, 3),  # epilepsi
    (CodeSystem.ICPC2, "P76", False, 5),  # depresjon
    (CodeSystem.ICPC2, "P15", False, 3),  # kronisk alkoholmisbruk
    (CodeSystem.ICD10, "F20.0", False, 3),  # paranoid schizofreni
    (CodeSystem.ICD10, "F84.0", False, 4),  # autisme
    (CodeSystem.ICD10, "Q90.9", False, 3),  # Downs syndrom
    (CodeSystem.ICD10, "G80.9", False, 3),  # cerebral parese
    (CodeSystem.ICD10, "F71", False, 3),  # moderat psykisk utviklingshemming
    (CodeSystem.ICD10, "G35", False, 2),  # multippel sklerose
    (CodeSystem.ICD10, "G40.9", False, 2),  # epilepsi
)

# Municipal units; services map to the unit type that performs them.
UNIT_OF_SERVICE: dict[int, str] = {
    1: "hjemmetjeneste",
    2: "funksjonshemmede",
    3: "tildeling",
    4: "aktivitet",
    5: "hjemmetjeneste",
    6: "hjemmetjeneste",
    7: "funksjonshemmede",
    8: "sykehjem",
    9: "aktivitet",
    11: "tildeling",
    14: "funksjonshemmede",
    15: "hjemmetjeneste",
    17: "sykehjem",
    18: "sykehjem",
    19: "sykehjem",
    20: "sykehjem",
    21: "sykehjem",
    22: "sykehjem",
    23: "funksjonshemmede",
    24: "sykehjem",
    25: "sykehjem",
    27: "hjemmetjeneste",
    28: "hjemmetjeneste",
}
