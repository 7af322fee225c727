"""Every label of the operator dashboard, one dictionary per language (merged with the kit's frame labels).

Placeholders are ``str.format`` fields (``{year}``). The control catalogue's titles and rules and the service
type names are Norwegian only (as the municipalities read them): the pages mark them ``lang="nb"``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["LABELS"]

LABELS: Final[dict[str, dict[str, str]]] = {
    "nb": {
        "app_name": "IPLOS-registeret – mottak",
        "nav_overview": "Oversikt",
        "nav_comparison": "Sammenligning",
        "comparison_title": "Sammenligningsstatistikk",
        "comparison_heading": "Sammenligningsstatistikk {year}: landet, fylkene og kommunene",
        "comparison_intro": (
            "Nøkkeltallene hver kommune får i sin sammenligningsstatistikk (docs/comparison.md), for hele landet. "
            "Skjult: færre enn 5 personer, eller et tall som sammen med de andre ville røpet et slikt."
        ),
        "comparison_chart": "Mottakere per 1000 innbyggere, fylkene",
        "comparison_caption": "Nøkkeltall {year} per område",
        "comparison_csv": "Last ned alle tallene (CSV)",
        "comparison_none": "Ingen innsendinger lagret for {year}.",
        "col_recipients": "Mottakere",
        "col_per_1000": "Per 1000 innb.",
        "col_share_80": "80+ (%)",
        "col_long_term": "Langtidsopphold (%)",
        "col_hours_home": "Timer hjemmesykepleie (median)",
        "col_days": "Dager søknad–vedtak (median)",
        "col_plan": "Individuell plan (%)",
        "col_score_home": "Skår hjemme",
        "col_score_institution": "Skår institusjon",
        "figure_hidden": "skjult",
        "figure_no_register": "ikke folkeregister",
        "nav_statistics": "Statistikk",
        # year overview
        "overview_title": "Innsendinger",
        "overview_heading": "Innsendinger for rapporteringsåret {year}",
        "overview_caption": "Kommuner som skal rapportere for {year}, med status for siste innsending",
        "reporting_year": "Rapporteringsår",
        "show": "Vis",
        "deadline_label": "Frist",
        "deadline_days_left": "{days} dager igjen.",
        "deadline_one_day": "1 dag igjen.",
        "deadline_today": "Fristen er i dag.",
        "deadline_passed": "Fristen gikk ut for {days} dager siden.",
        "deadline_passed_one": "Fristen gikk ut i går.",
        "deadline_passed_today": "Fristen gikk ut ved midnatt.",
        "counts_heading": "Tall for året",
        "count_expected": "Forventet",
        "count_received": "Mottatt",
        "count_missing": "Mangler",
        "count_with_findings": "Med funn",
        "count_replaced": "Erstattet",
        "count_held": "Venter på bekreftelse",
        "count_late": "For sent",
        "count_overdue": "Frist oversittet",
        "count_records": "Poster",
        "filter_heading": "Filtrer kommuner",
        "filter_status": "Status",
        "filter_all": "Alle",
        "filter_missing": "Mangler",
        "filter_received": "Mottatt uten funn",
        "filter_findings": "Mottatt med funn",
        "filter_replaced": "Erstattet minst én gang",
        "filter_late": "Mottatt for sent",
        "filter_overdue": "Frist oversittet",
        "filter_search": "Søk",
        "filter_search_hint": "Kommunenummer eller del av navnet",
        "filter_apply": "Filtrer",
        "filter_reset": "Nullstill",
        "shown_of": "Viser {shown} av {expected} kommuner.",
        "col_municipality": "Kommune",
        "col_name": "Navn",
        "col_status": "Status",
        "col_received": "Sist mottatt",
        "col_records": "Poster",
        "col_findings": "Funn",
        "col_replaced": "Erstattet",
        "col_never_resident": "K040",
        "col_never_resident_title": "Poster for personer som ifølge folkeregisteret aldri har bodd i kommunen (bare "
        "for registerets operatører)",
        "status_missing": "Mangler",
        "status_received": "Mottatt",
        "status_findings": "Mottatt med funn",
        "replaced_once": "Erstattet 1 gang",
        "held": "Venter på bekreftelse",
        "held_title": (
            "En ny innsending med langt færre personer venter på kommunens bekreftelse; den aktive gjelder til da"
        ),
        "replaced_times": "Erstattet {n} ganger",
        "late": "For sent",
        "overdue": "Frist oversittet",
        "no_rows": "Ingen kommuner passer til filteret.",
        "suppression_note": (
            "Tall som teller personer vises ikke når de er mindre enn 5: de står som «<5» (skjult). "
            "Det gjelder poster per kommune og totalt, poster per tjenestetype og funn per kontroll på tvers av "
            "kommuner."
        ),
        "suppressed_title": "Skjult: færre enn 5 personer",
        "suppressed_word": "skjult",
        "late_explained": (
            "Fristen er utgangen av februar året etter rapporteringsåret (norsk tid). «For sent»: den gjeldende "
            "innsendingen kom etter fristen. «Frist oversittet»: ingenting er mottatt, og fristen er ute."
        ),
        "unexpected_heading": "Innsendinger fra kommunenummer som ikke er gyldige i året",
        "unexpected_text": "Disse kommunenumrene finnes ikke i SSBs kommuneliste for {year}, men har sendt inn:",
        "unexpected_submissions": "{n} innsendinger",
        # statistics
        "statistics_title": "Statistikk",
        "statistics_heading": "Statistikk for rapporteringsåret {year}",
        "intake_heading": "Innsendinger over tid",
        "intake_chart_desc": (
            "Søyler: lagrede innsendinger per dag (mørkerøde etter fristen {deadline}). Tallene står i tabellen under."
        ),
        "intake_line_desc": "Linjen: kommuner mottatt så langt, av {expected}.",
        "intake_caption": "Innsendinger per dag for {year}",
        "col_day": "Dag",
        "col_submissions": "Innsendinger",
        "col_refused": "Avvist",
        "col_first_submissions": "Første fra kommunen",
        "col_municipalities_so_far": "Kommuner så langt",
        "no_submissions_yet": "Ingen innsendinger for dette året ennå.",
        "rules_heading": "Funn per kontroll",
        "rules_rate_explained": (
            "Andel: personer med funn per 100 poster for kontroller av poster, innsendinger med funn per 100 "
            "innsendinger for kontroller av meldingshodet. Gjelder gjeldende innsendinger."
        ),
        "rules_chart_desc": "Andel med funn per kontroll. Tallene står i tabellen under.",
        "rules_caption": "Funn per kontroll på tvers av kommuner, {year}",
        "col_rule": "Kontroll",
        "col_title": "Beskrivelse",
        "col_severity": "Alvorlighet",
        "col_persons": "Personer",
        "col_municipalities": "Kommuner",
        "col_rate": "Andel",
        "severity_error": "feil",
        "severity_warning": "advarsel",
        "findings_withheld": (
            "Funn per kontroll og per post vises bare for operatører. Som revisor ser du antall, kvitteringer og "
            "revisjonssporet."
        ),
        "findings_withheld_page": "Funnene på postnivå vises bare for operatører (holdt tilbake for revisorer).",
        "services_heading": "Poster per tjenestetype",
        "services_chart_desc": "Personer med tjenesten per tjenestetype. Tallene står i tabellen under.",
        "services_caption": "Personer og tjenestelinjer per tjenestetype, {year}",
        "col_service_type": "Tjenestetype",
        "col_service_name": "Tjeneste",
        "col_service_lines": "Tjenestelinjer",
        "flows_heading": "Tjenestemottakere fra året før",
        "flows_explained": (
            "Personer i kommunens innsending for {year} mot {previous}, fulgt gjennom folkeregisterets "
            "identitetsnummerhistorikk (et D-nummer som er byttet ut med et fødselsnummer, er én person). "
            "Landet teller hver person én gang."
        ),
        "flows_caption": "Tjenestemottakere {year} mot {previous}",
        "register_status": (
            "Folkeregisteret for {year}: uttrekk for {stored} av {expected} kommuner er mottatt. Kontrollene mot "
            "registeret (K032–K034) er kjørt for disse kommunene; K035 (ukjent i registeret) avgjøres når alle er "
            "mottatt."
        ),
        "register_complete": (
            "Folkeregisteret for {year}: uttrekk for alle {expected} kommuner er mottatt, og alle kontrollene mot "
            "registeret (K032–K035) er kjørt."
        ),
        "col_area": "Område",
        "area_national": "Hele landet",
        "col_continuing": "Fortsetter",
        "col_new": "Nye",
        "col_moved_in": "Flyttet inn",
        "col_ended": "Avsluttet",
        "col_moved_out": "Flyttet ut",
        "col_to_institution": "Fra hjemmet til langtidsopphold",
        "no_flows": "Ingen innsendinger for {previous} og {year} å sammenligne ennå.",
        # one submission
        "submission_title": "Innsending",
        "submission_heading": "Innsending fra {municipality} {name} for {year}",
        "back_to_overview": "Tilbake til oversikten for {year}",
        "facts_heading": "Om innsendingen",
        "fact_status": "Status",
        "submission_status_active": "Gjeldende",
        "submission_status_superseded": "Erstattet",
        "submission_status_refused": "Avvist",
        "submission_status_held": "Holdt tilbake",
        "csv_table": "Last ned tabellen (CSV)",
        "history_link": "Kommunens innsendinger gjennom årene",
        "history_title": "Kommune {municipality} {name}: innsendinger gjennom årene",
        "history_intro": (
            "Hver innsending registeret har en rad for, alle år, nyeste først: hva som gjaldt, hva som erstattet hva,"
            " og om den kom for sent."
        ),
        "municipality_history_caption": "Innsendinger fra kommune {municipality}",
        "history_none": "Registeret har ingen innsendinger fra kommune {municipality}.",
        "col_year": "År",
        "col_submission": "Innsending",
        "col_days_since": "Dager siden",
        "col_reason": "Hvorfor",
        "waiting_heading": "Venter eller stoppet",
        "waiting_intro": (
            "Innsendinger som har nådd registeret, men verken gjelder eller er erstattet: holdt tilbake (venter på"
            " kommunens bekreftelse) eller avvist (kommunen må sende på nytt). En innsending som står i kø i en"
            " kommuneportal eller hos TPF, vet registeret ikke om før den er levert: køenes dybde og alder står i"
            " deres /metrics (og i Grafana-dashbordet i deploy/)."
        ),
        "waiting_caption": "Holdt tilbake eller avvist, {year}",
        "waiting_none": "Ingen innsending for {year} venter eller er stoppet i registeret.",
        "waiting_held": "venter på kommunens bekreftelse",
        "fact_sequence": "Sekvensnummer",
        "fact_received": "Mottatt",
        "fact_sender": "Avsender",
        "fact_bydel": "Bydel",
        "fact_submission_id": "Innsendings-ID",
        "fact_payload_sha256": "SHA-256 av datadelen",
        "fact_key_version": "Pseudonymnøkkelversjon",
        "submission_counts_heading": "Antall",
        "fact_pseudonymised": "Pseudonymisert",
        "fact_identities_refused": "Identitet avvist",
        "fact_errors": "Feil",
        "fact_warnings": "Advarsler",
        "submission_counts_note": (
            "Dette er innsendingens egne tall, de samme som i den signerte kvitteringen; de skjules ikke."
        ),
        "findings_by_rule_heading": "Funn per kontroll",
        "no_findings": "Ingen funn.",
        "findings_gone": "Ingen funn lagret: innsendingen er erstattet eller avvist, og funnene følger den gjeldende.",
        "findings_caption": "Innsendingens funn per kontroll, med beskrivelse fra kontrollkatalogen",
        "rule_text": "Regel",
        "all_findings_link": "Alle funn, post for post",
        "history_heading": "Historikk for kommunen og året",
        "history_caption": "Alle innsendinger fra {municipality} for {year}, i mottaksrekkefølge",
        "col_supersedes": "Erstatter",
        "col_superseded_by": "Erstattet av",
        "this_submission": "denne",
        "receipt_heading": "Kvittering",
        "receipt_text": "Kvitteringen registeret utsteder for innsendingen, signert med registerets nøkkel.",
        "receipt_signature": "Signatur (Ed25519, base64)",
        "audit_heading": "Revisjonsspor",
        "audit_checkpoint": "Siste signerte sjekkpunkt dekker {size} oppføringer (signert {at}).",
        "audit_no_checkpoint": "Registeret har ikke signert noe sjekkpunkt ennå.",
        "audit_caption": "Oppføringer om innsendingen i loggen «{log}»",
        "col_index": "Nr.",
        "col_event": "Hendelse",
        "col_time": "Tid",
        "col_facts": "Fakta",
        "col_proof": "Inklusjonsbevis",
        "proof_verified": "bekreftet mot sjekkpunktet",
        "proof_failed": "stemmer ikke",
        "proof_pending": "etter siste sjekkpunkt",
        "audit_none": "Ingen oppføringer om denne innsendingen.",
        "audit_api_hint": "Bevisene kan hentes og kontrolleres uavhengig (revisor- eller operatørnøkkel):",
        # findings record by record
        "record_findings_title": "Funn",
        "record_findings_heading": "Funn post for post: {municipality}, {year}",
        "record_findings_text": (
            "Postene er navngitt med registerets tilfeldige referanse; bare kommunens gateway kan koble den til "
            "brukerNr."
        ),
        "record_findings_total": "{total} funn. Side {page} av {pages}.",
        "record_findings_caption": "Funn med referanse, felt og detalj",
        "col_reference": "Referanse",
        "col_field": "Felt",
        "col_detail": "Detalj",
        "whole_submission": "(hele innsendingen)",
        "back_to_submission": "Tilbake til innsendingen",
        "pagination": "Sider",
        "previous_page": "Forrige side",
        "next_page": "Neste side",
    },
    "en": {
        "app_name": "IPLOS registry – intake",
        "nav_overview": "Overview",
        "nav_comparison": "Comparison",
        "comparison_title": "Comparison statistics",
        "comparison_heading": "Comparison statistics {year}: the country, the counties and the municipalities",
        "comparison_intro": (
            "The key figures each municipality gets in its comparison statistics (docs/comparison.md), for the whole "
            "country. Hidden: fewer than 5 persons, or a figure that with the others would give one such away."
        ),
        "comparison_chart": "Recipients per 1,000 inhabitants, the counties",
        "comparison_caption": "Key figures {year} by area",
        "comparison_csv": "Download every figure (CSV)",
        "comparison_none": "No submissions stored for {year}.",
        "col_recipients": "Recipients",
        "col_per_1000": "Per 1,000 inh.",
        "col_share_80": "80+ (%)",
        "col_long_term": "Long-term stay (%)",
        "col_hours_home": "Hours home nursing (median)",
        "col_days": "Days application–decision (median)",
        "col_plan": "Individual plan (%)",
        "col_score_home": "Score at home",
        "col_score_institution": "Score in institution",
        "figure_hidden": "hidden",
        "figure_no_register": "no register",
        "nav_statistics": "Statistics",
        # year overview
        "overview_title": "Submissions",
        "overview_heading": "Submissions for reporting year {year}",
        "overview_caption": "Municipalities due to report for {year}, with the status of their latest submission",
        "reporting_year": "Reporting year",
        "show": "Show",
        "deadline_label": "Deadline",
        "deadline_days_left": "{days} days left.",
        "deadline_one_day": "1 day left.",
        "deadline_today": "The deadline is today.",
        "deadline_passed": "The deadline passed {days} days ago.",
        "deadline_passed_one": "The deadline passed yesterday.",
        "deadline_passed_today": "The deadline passed at midnight.",
        "counts_heading": "Figures for the year",
        "count_expected": "Expected",
        "count_received": "Received",
        "count_missing": "Missing",
        "count_with_findings": "With findings",
        "count_replaced": "Replaced",
        "count_held": "Awaiting confirmation",
        "count_late": "Late",
        "count_overdue": "Overdue",
        "count_records": "Records",
        "filter_heading": "Filter municipalities",
        "filter_status": "Status",
        "filter_all": "All",
        "filter_missing": "Missing",
        "filter_received": "Received without findings",
        "filter_findings": "Received with findings",
        "filter_replaced": "Replaced at least once",
        "filter_late": "Received late",
        "filter_overdue": "Overdue",
        "filter_search": "Search",
        "filter_search_hint": "Municipality number or part of the name",
        "filter_apply": "Filter",
        "filter_reset": "Reset",
        "shown_of": "Showing {shown} of {expected} municipalities.",
        "col_municipality": "Municipality",
        "col_name": "Name",
        "col_status": "Status",
        "col_received": "Last received",
        "col_records": "Records",
        "col_findings": "Findings",
        "col_replaced": "Replaced",
        "col_never_resident": "K040",
        "col_never_resident_title": "Records of persons who, says the population register, never lived in the "
        "municipality (the registry's operators only)",
        "status_missing": "Missing",
        "status_received": "Received",
        "status_findings": "Received with findings",
        "replaced_once": "Replaced once",
        "held": "Awaiting confirmation",
        "held_title": (
            "A new submission with far fewer persons awaits the municipality's confirmation;"
            " the active one applies until then"
        ),
        "replaced_times": "Replaced {n} times",
        "late": "Late",
        "overdue": "Overdue",
        "no_rows": "No municipality matches the filter.",
        "suppression_note": (
            "Figures that count persons are not shown below 5: they read “<5” (suppressed). This applies to the "
            "records per municipality and in total, the records per service type and the findings per rule "
            "across municipalities."
        ),
        "suppressed_title": "Suppressed: fewer than 5 persons",
        "suppressed_word": "suppressed",
        "late_explained": (
            "The deadline is the end of February of the year after the reporting year (Norwegian time). “Late”: the "
            "current submission came after the deadline. “Overdue”: nothing was received and the deadline has "
            "passed."
        ),
        "unexpected_heading": "Submissions from municipality numbers not valid in the year",
        "unexpected_text": "These municipality numbers are not in Statistics Norway's list for {year}, yet submitted:",
        "unexpected_submissions": "{n} submissions",
        # statistics
        "statistics_title": "Statistics",
        "statistics_heading": "Statistics for reporting year {year}",
        "intake_heading": "Intake over time",
        "intake_chart_desc": (
            "Columns: submissions stored per day (dark red after the deadline {deadline}). The numbers are in the "
            "table below."
        ),
        "intake_line_desc": "The line: municipalities received so far, of {expected}.",
        "intake_caption": "Submissions per day for {year}",
        "col_day": "Day",
        "col_submissions": "Submissions",
        "col_refused": "Refused",
        "col_first_submissions": "First from the municipality",
        "col_municipalities_so_far": "Municipalities so far",
        "no_submissions_yet": "No submissions for this year yet.",
        "rules_heading": "Findings by rule",
        "rules_rate_explained": (
            "Rate: persons with findings per 100 records for record rules, submissions with findings per 100 "
            "submissions for header rules. Over the current submissions."
        ),
        "rules_chart_desc": "Rate of findings per rule. The numbers are in the table below.",
        "rules_caption": "Findings per rule across municipalities, {year}",
        "col_rule": "Rule",
        "col_title": "Description",
        "col_severity": "Severity",
        "col_persons": "Persons",
        "col_municipalities": "Municipalities",
        "col_rate": "Rate",
        "severity_error": "error",
        "severity_warning": "warning",
        "findings_withheld": (
            "Findings by rule and by record are shown to operators only. As an auditor you see the counts, the "
            "receipts and the audit trail."
        ),
        "findings_withheld_page": "Findings record by record are shown to operators only (withheld from auditors).",
        "services_heading": "Records per service type",
        "services_chart_desc": "Persons with the service, per service type. The numbers are in the table below.",
        "services_caption": "Persons and service lines per service type, {year}",
        "col_service_type": "Service type",
        "col_service_name": "Service",
        "col_service_lines": "Service lines",
        "flows_heading": "Care recipients from the year before",
        "flows_explained": (
            "Persons in each municipality's submission for {year} against {previous}, followed through the population "
            "register's identity-number histories (a D-number replaced by a fødselsnummer is one person). The "
            "country counts each person once."
        ),
        "flows_caption": "Care recipients {year} against {previous}",
        "register_status": (
            "Population register for {year}: the extracts of {stored} of {expected} municipalities have arrived. The "
            "checks against the register (K032–K034) have run for those municipalities; K035 (unknown to the "
            "register) is decided once all have arrived."
        ),
        "register_complete": (
            "Population register for {year}: the extracts of all {expected} municipalities have arrived, and every "
            "check against the register (K032–K035) has run."
        ),
        "col_area": "Area",
        "area_national": "The whole country",
        "col_continuing": "Continuing",
        "col_new": "New",
        "col_moved_in": "Moved in",
        "col_ended": "Ended",
        "col_moved_out": "Moved out",
        "col_to_institution": "From home to a long-term stay",
        "no_flows": "No submissions for {previous} and {year} to compare yet.",
        # one submission
        "submission_title": "Submission",
        "submission_heading": "Submission from {municipality} {name} for {year}",
        "back_to_overview": "Back to the overview for {year}",
        "facts_heading": "About the submission",
        "fact_status": "Status",
        "submission_status_active": "Current",
        "submission_status_superseded": "Replaced",
        "submission_status_refused": "Refused",
        "submission_status_held": "Held",
        "csv_table": "Download the table (CSV)",
        "history_link": "The municipality's submissions over the years",
        "history_title": "Municipality {municipality} {name}: submissions over the years",
        "history_intro": (
            "Every submission the registry holds a row of, every year, newest first: what was in effect, what replaced"
            " what, and whether it came late."
        ),
        "municipality_history_caption": "Submissions from municipality {municipality}",
        "history_none": "The registry holds no submission from municipality {municipality}.",
        "col_year": "Year",
        "col_submission": "Submission",
        "col_days_since": "Days since",
        "col_reason": "Why",
        "waiting_heading": "Waiting or stopped",
        "waiting_intro": (
            "Submissions that reached the registry but are neither in effect nor replaced: held (waiting for the"
            " municipality's confirmation) or refused (the municipality must send again). A submission queued at a"
            " municipality's gateway or at the TPF is not known to the registry until it is delivered: their queues'"
            " depth and age are in their /metrics (and in the Grafana dashboard in deploy/)."
        ),
        "waiting_caption": "Held or refused, {year}",
        "waiting_none": "No submission for {year} is waiting or stopped at the registry.",
        "waiting_held": "waiting for the municipality's confirmation",
        "fact_sequence": "Sequence",
        "fact_received": "Received",
        "fact_sender": "Sender",
        "fact_bydel": "City district (bydel)",
        "fact_submission_id": "Submission id",
        "fact_payload_sha256": "SHA-256 of the payload",
        "fact_key_version": "Pseudonym key version",
        "submission_counts_heading": "Counts",
        "fact_pseudonymised": "Pseudonymised",
        "fact_identities_refused": "Identity refused",
        "fact_errors": "Errors",
        "fact_warnings": "Warnings",
        "submission_counts_note": (
            "These are the submission's own figures, as in its signed receipt; they are not suppressed."
        ),
        "findings_by_rule_heading": "Findings by rule",
        "no_findings": "No findings.",
        "findings_gone": (
            "No findings stored: the submission was replaced or refused; findings go with the current one."
        ),
        "findings_caption": "The submission's findings by rule, described from the controls catalogue",
        "rule_text": "Rule",
        "all_findings_link": "All findings, record by record",
        "history_heading": "History for the municipality and year",
        "history_caption": "Every submission from {municipality} for {year}, in the order received",
        "col_supersedes": "Replaces",
        "col_superseded_by": "Replaced by",
        "this_submission": "this one",
        "receipt_heading": "Receipt",
        "receipt_text": "The receipt the registry issues for the submission, signed with the registry's key.",
        "receipt_signature": "Signature (Ed25519, base64)",
        "audit_heading": "Audit trail",
        "audit_checkpoint": "The latest signed checkpoint covers {size} entries (signed {at}).",
        "audit_no_checkpoint": "The registry has not signed a checkpoint yet.",
        "audit_caption": "Entries about the submission in the log “{log}”",
        "col_index": "No.",
        "col_event": "Event",
        "col_time": "Time",
        "col_facts": "Facts",
        "col_proof": "Inclusion proof",
        "proof_verified": "verified against the checkpoint",
        "proof_failed": "does not verify",
        "proof_pending": "after the latest checkpoint",
        "audit_none": "No entries about this submission.",
        "audit_api_hint": "The proofs can be fetched and checked independently (auditor's or operator's token):",
        # findings record by record
        "record_findings_title": "Findings",
        "record_findings_heading": "Findings record by record: {municipality}, {year}",
        "record_findings_text": (
            "Records are named by the registry's random reference; only the municipality's gateway can map it to "
            "brukerNr."
        ),
        "record_findings_total": "{total} findings. Page {page} of {pages}.",
        "record_findings_caption": "Findings with reference, field and detail",
        "col_reference": "Reference",
        "col_field": "Field",
        "col_detail": "Detail",
        "whole_submission": "(the whole submission)",
        "back_to_submission": "Back to the submission",
        "pagination": "Pages",
        "previous_page": "Previous page",
        "next_page": "Next page",
    },
}
