"""Two languages: the kit's own labels, merging a service's with them, and the language a request asks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import Request

LANGUAGES: Final = ("nb", "en")
DEFAULT_LANGUAGE: Final = "nb"

Labels = Mapping[str, str]

#: The kit's own labels: the frame of every page (skip link, language switch, sign-in, errors).
KIT_LABELS: Final[dict[str, dict[str, str]]] = {
    "nb": {
        "skip_to_content": "Hopp til hovedinnholdet",
        "main_navigation": "Hovedmeny",
        "language": "Språk",
        "language_name_nb": "Norsk (bokmål)",
        "language_name_en": "English",
        "signed_in_as": "Logget inn som",
        "role_operator": "operatør",
        "role_auditor": "revisor",
        "role_municipality": "kommune",
        "sign_in": "Logg inn",
        "sign_in_title": "Logg inn",
        "sign_in_intro": "Lim inn tilgangsnøkkelen din (den samme som API-et tar imot som bearer-token).",
        "sign_in_token": "Tilgangsnøkkel",
        "sign_in_token_hint": "Nøkkelen lagres ikke i nettleseren: innloggingen varer til du logger ut, til du har "
        "vært borte en stund, og høyst en arbeidsdag.",
        "sign_in_failed": "Nøkkelen er ukjent, eller rollen har ikke tilgang til disse sidene.",
        "sign_in_missing": "Lim inn en tilgangsnøkkel.",
        "sign_in_cross_site": "Innloggingen kom fra et annet nettsted og ble avvist.",
        "sign_in_form_expired": "Innloggingsskjemaet var for gammelt eller kom ikke herfra. Prøv igjen.",
        "sign_out": "Logg ut",
        "signed_out": "Du er logget ut.",
        "error_title": "Feil",
        "error_forbidden": "Rollen din har ikke tilgang til denne siden.",
        "error_cross_site": "Skjemaet kom fra et annet nettsted og ble avvist. Ingenting er endret.",
        "error_form_token": "Skjemaet var utløpt eller kom ikke fra denne siden. Ingenting er endret; last siden "
        "på nytt og prøv igjen.",
        "error_not_found": "Siden finnes ikke.",
        "back_to_start": "Til forsiden",
    },
    "en": {
        "skip_to_content": "Skip to main content",
        "main_navigation": "Main menu",
        "language": "Language",
        "language_name_nb": "Norsk (bokmål)",
        "language_name_en": "English",
        "signed_in_as": "Signed in as",
        "role_operator": "operator",
        "role_auditor": "auditor",
        "role_municipality": "municipality",
        "sign_in": "Sign in",
        "sign_in_title": "Sign in",
        "sign_in_intro": "Paste your access token (the same one the API takes as a bearer token).",
        "sign_in_token": "Access token",
        "sign_in_token_hint": "The token is not kept in the browser: the sign-in lasts until you sign out, until you "
        "have been away for a while, and a working day at most.",
        "sign_in_failed": "The token is not known, or its role may not use these pages.",
        "sign_in_missing": "Paste an access token.",
        "sign_in_cross_site": "The sign-in came from another site and was refused.",
        "sign_in_form_expired": "The sign-in form was too old or did not come from here. Try again.",
        "sign_out": "Sign out",
        "signed_out": "You are signed out.",
        "error_title": "Error",
        "error_forbidden": "Your role may not see this page.",
        "error_cross_site": "The form came from another site and was refused. Nothing was changed.",
        "error_form_token": "The form had expired or did not come from this page. Nothing was changed; reload the "
        "page and try again.",
        "error_not_found": "There is no such page.",
        "back_to_start": "To the start page",
    },
}


def merge_labels(*dictionaries: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """One dictionary per language from several (the kit's, a service's); every language must have exactly the
    same keys, and no key may be defined twice."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for dictionary in dictionaries:
        if set(dictionary) != set(LANGUAGES):
            raise ValueError(f"labels must be given for exactly {LANGUAGES}")
        keys = {lang: set(dictionary[lang]) for lang in LANGUAGES}
        first = keys[LANGUAGES[0]]
        for lang in LANGUAGES[1:]:
            if keys[lang] != first:
                raise ValueError(f"labels differ between languages: {sorted(keys[lang] ^ first)}")
        twice = first & set(merged[LANGUAGES[0]])
        if twice:
            raise ValueError(f"labels defined twice: {sorted(twice)}")
        for lang in LANGUAGES:
            merged[lang].update(dictionary[lang])
    return merged


def language_of(request: Request) -> str:
    """``?lang=`` if it names a supported language, else the default (nb)."""
    lang = request.query_params.get("lang", "")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE
