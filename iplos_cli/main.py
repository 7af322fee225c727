"""The ``iplos`` command line: keys, synthetic exports, the services, submissions, the demo, the soak and the bench.

Commands only: each parses its options, calls the package that does the work (:mod:`iplos_chain` to run and
talk to the chain, :mod:`iplos_testkit` for synthetic exports, the demo and the soak, :mod:`iplos_audit` through
``iplos audit``) and prints. Heavier imports wait inside the command that needs them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import signal
import ssl
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iplos_chain import APPS, DEFAULT_PORTS, REGISTER_GATEWAY, Chain, client, ensure_keys
from iplos_chain.state import KEYS_FOLDER
from iplos_cli.audit import audit_app
from keys.generate import POPULATION_REGISTER_FOLDER
from shared.keys import ca_certificate_file

app = typer.Typer(help="IPLOS chain: municipality gateway, trusted pseudonym manager (TPF), registry intake.")
keys_app = typer.Typer(help="Key pairs for every party and the public-key directory.")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
registers_app = typer.Typer(help="The registers the registry keeps beside the care data: Enhetsregisteret's units.")
app.add_typer(registers_app, name="registers")
registry_app = typer.Typer(help="Operator actions at the registry: lifting a municipality-year's sequence block.")
app.add_typer(registry_app, name="registry")
# Submission ids are 36 characters: give tables room even when the output is not a terminal (CI, pipes).
console = Console(width=max(Console().width, 140))
err = Console(stderr=True)

DEFAULT_MUNICIPALITIES = ["0301", "4601", "5001", "1103"]
GATEWAY_URL = "https://127.0.0.1:8001"
REGISTRY_URL = "https://127.0.0.1:8003"
# The CA the services' certificates chain to: `iplos up`'s development CA unless told otherwise.
CaOption = Annotated[
    Path | None,
    typer.Option(
        "--ca",
        envvar="IPLOS_CA_FILE",
        help="CA certificate (PEM) to verify the gateway with (default: .state/keys/ca/ca.pem if it exists, else the"
        " system's trust store)",
    ),
]
# The soak's and the bench's: where the services keep their data.
DatabaseOption = Annotated[
    str, typer.Option(help="The services' databases: sqlite (files), or postgresql (a fresh database each)")
]
PostgresUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="IPLOS_SOAK_POSTGRES_URL",
        show_default=False,
        help="PostgreSQL server (an account that may create databases); default the local one as postgres",
    ),
]

# show_default=False: a token taken from IPLOS_TOKEN must not be printed by --help.
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="IPLOS_TOKEN",
        show_default=False,
        help="Bearer token for the gateway: the municipality's, or the operator's ('iplos up' prints them)",
    ),
]
OperatorTokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="IPLOS_TOKEN", show_default=False, help="The registry operator's bearer token"),
]


def _verify(ca: Path | None) -> ssl.SSLContext | bool:
    """What the gateway's certificate is checked against: ``ca``, or `iplos up`'s development CA if there is one."""
    found = ca or ca_certificate_file(Path(".state") / KEYS_FOLDER)
    if not found.exists():
        if ca is not None:
            err.print(f"[red]error:[/red] no CA certificate at {ca}")
            raise typer.Exit(2)
        return True
    return ssl.create_default_context(cafile=str(found))


def _fail(exc: client.ChainError) -> typer.Exit:
    # escape: a schema message may hold "[unknown element]", which rich would take for markup.
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    if exc.status == 401:
        err.print("pass --token TOKEN or set IPLOS_TOKEN ('iplos up' prints the development tokens)")
    if exc.problem == "identical-resubmission" and "submission_id" in exc.details:
        # Also what a second try gets when the gateway took the first but its answer was lost on the way.
        err.print(
            f"this export already is submission {escape(str(exc.details['submission_id']))}"
            f" ({escape(str(exc.details.get('state')))}); once stored, iplos report"
            f" {escape(str(exc.details['submission_id']))} shows its control report",
            highlight=False,
        )
    return typer.Exit(1)


def _print_json(body: object) -> None:
    """JSON only, on stdout, as it is (no colours, no wrapping, whatever the terminal): for scripts and jq."""
    sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


@keys_app.command("init")
def keys_init(
    dir: Annotated[Path, typer.Option("--dir", help="Folder to create the keys in (must not hold keys yet)")],
    municipality: Annotated[
        list[str] | None, typer.Option("--municipality", "-m", help="kommuneNr to create a key pair for; repeat")
    ] = None,
) -> None:
    """Create X25519 and Ed25519 key pairs for the TPF, the registry and each municipality, the TPF's
    pseudonym key, a development CA with each party's TLS certificate, and directory.json (private files mode
    0600). On a folder that holds keys already: keep them, and add the TLS certificates it lacks."""
    from keys.generate import DIRECTORY_FILE, add_tls, init_keys

    try:
        if (dir / DIRECTORY_FILE).exists():
            if municipality:
                err.print("[red]error:[/red] the folder holds keys already; --municipality adds none to it")
                raise typer.Exit(2)
            directory = add_tls(dir)
            console.print("kept the keys there; TLS certificates: added what was missing")
        else:
            directory = init_keys(dir, municipality or DEFAULT_MUNICIPALITIES)
    except (FileExistsError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for party in directory.parties():
        console.print(f"{party.name:16} {party.role}")
    console.print(f"public-key directory: {dir / 'directory.json'}")
    console.print(f"development CA: {dir / 'ca' / 'ca.pem'} (its key, ca-key.pem, signs certificates: keep it away)")


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the export XML")],
    municipality: Annotated[str, typer.Option("--municipality", "-m", help="kommuneNr, four digits")] = "0301",
    year: Annotated[int, typer.Option(help="Reporting year")] = 2025,
    persons: Annotated[int, typer.Option(help="Number of service recipients", min=1)] = 500,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible export")] = None,
    vary: Annotated[int, typer.Option(help="Variant of the same municipality-year (changed data)", min=0)] = 0,
    errors: Annotated[
        float, typer.Option(help="Share of persons given one known fault each (0-1)", min=0.0, max=1.0)
    ] = 0.0,
    answer_key: Annotated[
        Path | None, typer.Option(help="With --errors: write which brukerNr carries which control code here")
    ] = None,
    business_faults: Annotated[
        bool,
        typer.Option(
            "--business-faults",
            help="With --errors: faults the business register finds too (K036-K039), once the registry holds the"
            " synthetic Enhetsregisteret ('iplos registers synthetic-enheter')",
        ),
    ] = False,
) -> None:
    """Write a synthetic IPLOS export that validates against the project's XSD (synthetic numbers only). For exports
    of several municipalities and years with the population register extracts that match them, use
    'iplos generate-population'."""
    from iplos_testkit.exports import write_synthetic_export

    if answer_key is not None and errors == 0:
        err.print("[red]error:[/red] --answer-key needs --errors RATE above 0")
        raise typer.Exit(2)
    from shared.iplos.municipalities import NoMunicipalityList, valid_municipalities

    try:
        known = valid_municipalities(year)
    except NoMunicipalityList as exc:
        err.print(f"[red]error:[/red] --year: {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if municipality not in known:
        err.print(
            f"[red]error:[/red] --municipality {escape(municipality)} is not a kommunenummer of {year}: four digits,"
            " as SSB lists them (0301 Oslo, 4601 Bergen)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    from iplos_chain.progress import CountProgress

    # A bar on a terminal, a line at every tenth otherwise, on stderr: stdout keeps the one line of what was written.
    with CountProgress(err, "writing persons", persons) as progress:
        written, key = write_synthetic_export(
            out,
            municipality,
            year,
            persons,
            seed,
            vary=vary,
            errors=errors,
            answer_key=answer_key,
            business_faults=business_faults,
            on_person=progress.advance,
        )
    console.print(f"wrote {out} ({written} persons, municipality {municipality}, year {year})")
    if key is not None:
        console.print(
            f"{len(key.records)} persons carry a known fault" + (f"; answer key: {answer_key}" if answer_key else "")
        )


def _numbers_list(text: str, pattern: str, what: str, option: str) -> list[str]:
    import re

    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items or any(not re.fullmatch(pattern, item) for item in items) or len(set(items)) != len(items):
        raise typer.BadParameter(f"give {what}, separated by commas, each once", param_hint=option)
    return items


@app.command("generate-population")
def generate_population(
    out: Annotated[Path, typer.Option("--out", "-o", help="A folder for the register extracts and the exports")],
    municipalities: Annotated[
        str, typer.Option(help="kommuneNr of the municipalities simulated, separated by commas")
    ] = "0301,1103",
    years: Annotated[str, typer.Option(help="Consecutive reporting years, separated by commas")] = "2024,2025",
    residents: Annotated[
        int, typer.Option(help="Residents per municipality on 1 January of the first year", min=1, max=100_000)
    ] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the simulation (the same seed, the same files)")] = 1,
    errors: Annotated[
        float, typer.Option(help="Share of each export's records given a register fault (0-1)", min=0.0, max=1.0)
    ] = 0.0,
) -> None:
    """Simulate a population over years and write its population register extracts (iplos-folkeregister/1), the
    care exports of its municipalities, the answer key of the register faults and the truth of the flows between
    years (synthetic numbers only)."""
    from iplos_testkit.population import generate_population as simulate
    from shared.iplos.municipalities import NoMunicipalityList, valid_municipalities

    kommuner = _numbers_list(municipalities, r"[0-9]{4}", "four-digit kommunenummer", "--municipalities")
    aar = sorted(int(year) for year in _numbers_list(years, r"20[0-9]{2}", "reporting years", "--years"))
    if aar != list(range(aar[0], aar[0] + len(aar))):
        raise typer.BadParameter("the years must follow one another", param_hint="--years")
    for year in aar:
        try:
            unknown = sorted(set(kommuner) - valid_municipalities(year))
        except NoMunicipalityList:
            raise typer.BadParameter(f"no municipality list for {year} (2020 on)", param_hint="--years") from None
        if unknown:
            raise typer.BadParameter(
                f"not a municipality in {year}: {', '.join(unknown)}", param_hint="--municipalities"
            )
    files = simulate(out, kommuner, aar, residents=residents, seed=seed, errors=errors)
    console.print(f"register extracts: {len(files.registers)} under {out}/folkeregister/<year>/<kommuneNr>.jsonl")
    console.print(f"care exports: {len(files.exports)} under {out}/<year>/<kommuneNr>.xml")
    console.print(f"answer key: {files.answer_key} ({len(files.faults)} register faults)")
    console.print(f"truth of the flows between years: {files.truth}")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="gateway, tpf or registry")],
    port: Annotated[int | None, typer.Option(help="Port (default: gateway 8001, tpf 8002, registry 8003)")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes sharing the port, the database and the state folder; a worker that dies is"
            " started again",
            min=1,
        ),
    ] = 1,
    graceful_shutdown_s: Annotated[
        int, typer.Option(help="On SIGTERM, how long requests in flight may take to finish", min=1)
    ] = 30,
) -> None:
    """Run one service over mutual TLS (its certificate and key, the directory's CA); it is configured by
    IPLOS_GATEWAY_*, IPLOS_TPF_* or IPLOS_REGISTRY_* variables (PLAIN_HTTP=true: plain HTTP, development only)."""
    from iplos_chain.serve import ConfigurationError, settings_from_environment
    from iplos_chain.serve import serve as run_service

    if service not in APPS:
        err.print("[red]error:[/red] the service is one of gateway, tpf, registry")
        raise typer.Exit(2)
    try:
        settings_from_environment(service)
    except ConfigurationError as exc:
        # One line that says what to set, not pydantic's account of each field.
        err.print(
            f"[red]error:[/red] {escape(str(exc))} (environment variables: README, 'Service configuration';"
            " 'iplos up' runs a development chain with everything set)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    # On SIGTERM (to the one process, or to the manager, which passes it on to every worker) each process stops
    # taking connections, answers what is in flight within graceful_shutdown_s, then its outbox finishes or hands
    # back the attempt under way (services.kit.outbox.Policy.drain_s).
    run_service(
        service,
        host=host,
        port=port or DEFAULT_PORTS[service],
        workers=workers,
        graceful_shutdown_s=graceful_shutdown_s,
    )


@app.command()
def up(
    state_dir: Annotated[Path, typer.Option(help="Where the services keep keys, databases, logs")] = Path(".state"),
    municipality: Annotated[list[str] | None, typer.Option("--municipality", "-m")] = None,
) -> None:
    """Run the three services on loopback with development keys until Ctrl-C, and the population register's
    gateway beside them."""
    from iplos_chain.supervisor import PortTaken

    keys = ensure_keys(state_dir, municipality or DEFAULT_MUNICIPALITIES)
    # A key folder from before the register was a party has no keys for it: the chain runs without its gateway.
    register = (keys / POPULATION_REGISTER_FOLDER).is_dir()
    chain = Chain(state_dir.resolve(), register=register)
    try:
        chain.check_ports_free()
        chain.start_all()
    except (PortTaken, RuntimeError) as exc:
        chain.stop_all()
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2 if isinstance(exc, PortTaken) else 1) from None
    with chain:
        for service in chain.services:
            console.print(f"{service:16} {chain.url(service)}   (state: {state_dir / service})")
        # Each on a line of its own, so a script can pick them up. The operator's token reads the registry and
        # acts for every municipality at the gateway; a municipality's submits and reads its own only.
        print(f"operator token: {chain.operator_token}", flush=True)
        # Reads every service's audit log and the registry's operator views without findings detail; changes nothing.
        print(f"auditor token: {chain.auditor_token}", flush=True)
        for kommune_nr, token in chain.municipality_tokens().items():
            print(f"municipality {kommune_nr} token: {token}", flush=True)
        if register:
            print(f"population register token: {chain.register_token}", flush=True)
        else:
            console.print("no population register keys in this state folder: its gateway is not started")
        console.print(f"development CA: {chain.ca_file}   (iplos submit finds it; curl --cacert, SSL_CERT_FILE)")
        console.print(f"operators' dashboard: {chain.url('registry')}/dashboard   (sign in with the operator token)")
        console.print(f"municipal IT pages:   {chain.url('gateway')}/pages   (a municipality's token)")
        if register:
            console.print(
                f"register extracts:    iplos submit FILE.jsonl --gateway {chain.url(REGISTER_GATEWAY)}"
                " --token REGISTER_TOKEN --wait   (iplos generate-population writes them)"
            )
        console.print("submit with: iplos submit FILE.xml --token TOKEN --wait      stop with Ctrl-C")
        # sigwait only waits for blocked signals: unblocked, a SIGTERM would end this process at once and leave
        # the three services running. Blocked only now, after the services started (they inherit the mask).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        # Woken every second to look at the services: one that dies is said at once, and the rest are stopped,
        # rather than leaving tokens printed above that no longer reach anything.
        dead: dict[str, int] = {}
        with contextlib.suppress(KeyboardInterrupt):
            while signal.sigtimedwait({signal.SIGINT, signal.SIGTERM}, 1.0) is None:
                dead = chain.dead()
                if dead:
                    break
        for service, code in dead.items():
            log = state_dir / service / "logs" / "process.log"
            err.print(
                f"[red]error:[/red] the {service} stopped (exit code {code}); its log: {log}. Stopping the others.",
                highlight=False,
                soft_wrap=True,
            )
    console.print("stopped")
    if dead:
        raise typer.Exit(1)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="IPLOS export XML", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only (the gateway's form)")] = False,
    lang: Annotated[
        str | None, typer.Option("--lang", help="en or nb (default: Norwegian where the locale is, else English)")
    ] = None,
    show: Annotated[int, typer.Option(min=1, help="How many errors to list (the total is always given)")] = 100,
) -> None:
    """Check an export offline, with no keys and no service, as the gateway would: every schema error (the total,
    then the first --show), each with its line, element path and a sentence in English or Norwegian. Exit 0 if the
    gateway would take the file, 1 if it would refuse it."""
    from iplos_chain.language import preferred_language
    from shared.iplos.problem_text import problem_lines, summary
    from shared.iplos.reader import check_export

    if lang not in (None, "en", "nb"):
        err.print("[red]error:[/red] --lang must be en or nb")
        raise typer.Exit(2)
    language = preferred_language(lang)
    check = check_export(file, shown=show)
    if as_json:
        header = check.header
        body = check.as_json() | {
            "kommuneNr": header.kommune_nr if header else None,
            "rapporteringsaar": header.rapporteringsaar if header else None,
            "formatVersjon": header.format_version if header else None,
        }
        _print_json(body)
    elif check.valid and check.header is not None:
        header = check.header
        if language == "nb":
            console.print(
                f"gyldig: {check.persons} personer, kommune {header.kommune_nr}, år {header.rapporteringsaar},"
                f" formatversjon {header.format_version}; gatewayen ville tatt imot filen"
                " (registerets logiske kontroller kommer i tillegg)",
                highlight=False,
            )
        else:
            console.print(
                f"valid: {check.persons} persons, municipality {header.kommune_nr}, year {header.rapporteringsaar},"
                f" format version {header.format_version}; the gateway would take the file"
                " (the registry's logical controls come on top)",
                highlight=False,
            )
    else:
        for line in problem_lines([p.as_json() for p in check.problems], check.total, check.complete, language):
            console.print(escape(line), highlight=False, soft_wrap=True)
        console.print(summary(check.total, check.persons, check.complete, language), highlight=False)
    if not check.valid:
        raise typer.Exit(1)


@app.command()
def submit(
    file: Annotated[
        Path,
        typer.Argument(
            help="IPLOS export XML (or, at the population register's gateway, a register extract .jsonl)",
            exists=True,
            dir_okay=False,
        ),
    ],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the registry's receipt")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait")] = 300.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only JSON: the gateway's 202 answer (with --wait, the final status)")
    ] = False,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Submit an export through the gateway; print the submission id (and, with --wait, the final status)."""
    from iplos_chain.progress import SubmitProgress

    # The upload and the submission's way through the gateway, the TPF and the registry go to stderr (a bar and a
    # changing line on a terminal, else a plain line per change); stdout keeps the id and the final status.
    try:
        verify = _verify(ca)
        final = None
        with SubmitProgress(err) as progress:
            accepted = client.submit(file, gateway, token=token, verify=verify, progress=progress.upload)
            if not as_json:
                console.print(f"submission {accepted['submission_id']} accepted ({accepted['records']} records)")
            progress.accepted(accepted)
            if wait:
                final = client.wait_final(
                    gateway, accepted["submission_id"], timeout, token=token, verify=verify, on_change=progress.status
                )
        if as_json:
            _print_json(final if final is not None else accepted)
        if final is not None:
            if not as_json:
                console.print(json.dumps({k: v for k, v in final.items() if k != "receipt_signature"}, indent=2))
            if final["state"] == "held" and not as_json:
                console.print(
                    f"[yellow]held:[/yellow] far fewer persons than the year's active submission, which stays"
                    f" active. Check the report, then confirm with: iplos confirm {accepted['submission_id']}"
                )
            if final["state"] != "stored":
                raise typer.Exit(1)
    except client.ChainError as exc:
        raise _fail(exc) from None


@registers_app.command("load-enheter")
def load_enheter(
    file: Annotated[
        Path,
        typer.Argument(
            help="A bulk file of Enhetsregisteret as Brønnøysundregistrene serves it: main units or sub-units, CSV or"
            " JSON, gzipped or not (the file says which)",
            exists=True,
            dir_okay=False,
        ),
    ],
    registry: Annotated[str, typer.Option(help="Registry URL")] = REGISTRY_URL,
    as_of: Annotated[
        str | None,
        typer.Option(help="The day the file was taken from the register, YYYY-MM-DD (default: today)"),
    ] = None,
    token: OperatorTokenOption = None,
    ca: CaOption = None,
) -> None:
    """Load a bulk file of Enhetsregisteret into the registry's copy, which the business register controls (K036-K039)
    judge every service's organisation number against. Load both files (main units and sub-units); units a newer
    file no longer lists are kept as deleted. Every care submission is judged again."""
    if as_of is not None:
        try:
            dt.date.fromisoformat(as_of)
        except ValueError:
            err.print("[red]error:[/red] --as-of is a date, YYYY-MM-DD")
            raise typer.Exit(2) from None
    try:
        with err.status(f"loading {file.name} into the registry's copy of Enhetsregisteret ..."):
            load = client.load_business_register(file, registry, token=token, verify=_verify(ca), as_of=as_of)
    except client.ChainError as exc:
        raise _fail(exc) from None
    kind = {"enhet": "main units", "underenhet": "sub-units"}[load["kind"]]
    console.print(
        f"loaded {load['unit_count']} {kind} as of {load['as_of']} (load {load['load_id']});"
        f" {load['gone_count']} no longer listed, kept as deleted"
    )
    changed = load["findings_changed"]
    console.print(
        "business register findings changed: "
        + (", ".join(f"{code} {n}" for code, n in changed.items()) if changed else "none")
    )


@registers_app.command("synthetic-enheter")
def synthetic_enheter(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the two files to")] = Path("enheter"),
    file_format: Annotated[str, typer.Option("--format", help="csv or json, as the register serves them")] = "csv",
) -> None:
    """Write a synthetic extract of Enhetsregisteret (every municipality's care units, as the synthetic exports name
    them, and a few units the business register faults use) as enheter and underenheter files, gzipped as served."""
    from iplos_testkit.business_register import write_synthetic_register

    if file_format not in ("csv", "json"):
        err.print("[red]error:[/red] --format is csv or json")
        raise typer.Exit(2)
    paths = write_synthetic_register(out, file_format="csv" if file_format == "csv" else "json")
    for path in paths.values():
        console.print(f"wrote {path}")
    console.print("load each with: iplos registers load-enheter FILE --token OPERATOR_TOKEN")


@registry_app.command("lift-sequence")
def lift_sequence(
    municipality: Annotated[str, typer.Argument(help="kommuneNr of the blocked municipality-year")],
    year: Annotated[int, typer.Argument(help="Reporting year")],
    reason: Annotated[
        str,
        typer.Option(
            help="For the audit trail: a short reference such as a case or ticket id (3-100 of A-Z a-z 0-9 : . _ / -)"
        ),
    ],
    registry: Annotated[str, typer.Option(help="Registry URL")] = REGISTRY_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry's answer only")] = False,
    token: OperatorTokenOption = None,
    ca: CaOption = None,
) -> None:
    """Let the next real submission of a municipality-year replace one whose signed sequence lies ahead of the
    registry's clock (every later export was refused as stale-sequence). The blocking submission stays active until
    then; a blocking held one is refused. On the registry's signed audit trail with your credential and the reason.
    Exit 0 when lifted or when nothing blocks (nothing changes), 1 when the registry refuses, 2 for bad arguments."""
    if not re.fullmatch(r"[0-9]{4}", municipality):
        err.print("[red]error:[/red] the municipality is a four-digit kommuneNr")
        raise typer.Exit(2)
    try:
        lift = client.lift_sequence_block(registry, municipality, year, reason, token=token, verify=_verify(ca))
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(lift)
    elif lift["lifted"]:
        console.print(
            f"lifted the block of {municipality} {year}: sequence {lift['lifted_sequence']} of submission"
            f" {lift['blocking_submission']}; the next submission signed after {lift['floor']} replaces it"
            + (f"; held submissions refused: {', '.join(lift['held_discarded'])}" if lift["held_discarded"] else ""),
            highlight=False,
        )
    else:
        console.print(
            f"nothing to lift: no stored sequence of {municipality} {year} lies ahead of the registry's clock",
            highlight=False,
        )


@app.command()
def status(
    submission_id: Annotated[str, typer.Argument(help="The submission id that 'iplos submit' printed")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the gateway's status document only")] = False,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Where a submission is: its state in words, each hop (gateway, TPF, registry), attempts and the last error,
    and the registry's receipt once it has one. Exit 0 once stored, 1 if refused, rejected or stopped, 3 while it
    is still on its way or held."""
    from iplos_chain.progress import describe

    try:
        body = client.get_json(f"{gateway.rstrip('/')}/v1/submissions/{submission_id}", token, verify=_verify(ca))
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(body)
    else:
        console.print(
            f"submission {body['submission_id']}: municipality {body['municipality']}, year {body['year']},"
            f" sequence {body['sequence']}, {body['records']} records, sent {body['created_at']}",
            highlight=False,
        )
        console.print(describe(body), highlight=False, markup=False)
        receipt = body.get("receipt") or {}
        if receipt.get("supersedes"):
            console.print(f"replaces submission {receipt['supersedes']}", highlight=False)
    raise typer.Exit(_state_exit(str(body["state"])))


def _state_exit(state: str) -> int:
    """0 stored, 1 stopped for good (refused, rejected, dead-letter: 'iplos retry' may send a stopped one again),
    3 not final yet (queued, forwarded, held)."""
    if state == "stored":
        return 0
    return 1 if state in ("refused", "rejected", "dead-letter") else 3


@app.command("list")
def list_submissions(
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    year: Annotated[int | None, typer.Option(help="Only this reporting year")] = None,
    municipality: Annotated[
        str | None, typer.Option("--municipality", "-m", help="Only this kommuneNr (an operator's token)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the gateway's list only")] = False,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """The gateway's submissions the token may see (a municipality's own; the operator's all), newest first."""
    query = "&".join(
        f"{name}={value}" for name, value in (("year", year), ("municipality", municipality)) if value is not None
    )
    url = f"{gateway.rstrip('/')}/v1/submissions" + (f"?{query}" if query else "")
    try:
        body = client.get_json(url, token, verify=_verify(ca))
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(body)
        return
    rows = body["submissions"]
    if not rows:
        console.print("no submissions")
        return
    table = Table("submission", "municipality", "year", "seq", "records", "state", "sent")
    for row in rows:
        table.add_row(
            row["submission_id"],
            row["municipality"],
            str(row["year"]),
            str(row["sequence"]),
            str(row["records"]),
            row["state"],
            row["created_at"],
        )
    console.print(table)


@app.command()
def retry(
    submission_id: Annotated[str, typer.Argument(help="The stopped submission's id")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the gateway's status document only")] = False,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Send a stopped submission again (dead-letter, or rejected on the way): the gateway puts it back in its outbox
    with the same sealed parts. Prints its state afterwards."""
    from iplos_chain.progress import describe

    try:
        url = f"{gateway.rstrip('/')}/v1/submissions/{submission_id}/retry"
        body = client.post_json(url, token, verify=_verify(ca))
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(body)
    else:
        console.print(f"submission {submission_id}: {describe(body)}", highlight=False, markup=False)


@app.command()
def confirm(
    submission_id: Annotated[str, typer.Argument(help="The held submission's id")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Confirm that a held submission replace the year's active one at the registry (its data is deleted)."""
    try:
        url = f"{gateway.rstrip('/')}/v1/submissions/{submission_id}/confirm-replacement"
        final = client.post_json(url, token, verify=_verify(ca))
    except client.ChainError as exc:
        raise _fail(exc) from None
    console.print(json.dumps({k: v for k, v in final.items() if k != "receipt_signature"}, indent=2))
    if final["state"] != "stored":
        raise typer.Exit(1)


@app.command()
def report(
    submission_id: Annotated[str, typer.Argument(help="The submission id that 'iplos submit' printed")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    limit: Annotated[int, typer.Option(help="Findings to list in the table (all with --json)", min=0)] = 200,
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Show the registry's control report for a submission, with findings by brukerNr."""
    try:
        body = client.get_json(
            f"{gateway.rstrip('/')}/v1/submissions/{submission_id}/report", token, verify=_verify(ca)
        )
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(body)
        return
    from iplos_chain.report_tables import findings_table, rules_table

    console.print(
        f"Control report for submission {body['submission_id']}: municipality {body['municipality']}, "
        f"year {body['year']}, sequence {body['sequence']}, {body['records']} records, "
        f"{body['finding_count']} findings"
    )
    if body["counts"]:
        console.print(rules_table(body["counts"]))
        console.print(findings_table(body["findings"], limit))
    else:
        console.print("[green]no findings[/green]")


@app.command()
def compare(
    submission_id: Annotated[str, typer.Argument(help="The submission id that 'iplos submit' printed")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = GATEWAY_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON")] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write every figure to this CSV file")] = None,
    age: Annotated[str, typer.Option(help="Age group of the rates per 1,000: 0-66, 67-79, 80-89, 90+ or all")] = "all",
    token: TokenOption = None,
    ca: CaOption = None,
) -> None:
    """Show the registry's comparison statistics for a submission's municipality: its figures beside its county's
    and the country's, and its own the year before (docs/comparison.md; hidden: fewer than 5 persons, or a figure
    that would give one away)."""
    from services.municipality_gateway.comparison_view import (
        AGE_COLUMNS,
        columns,
        indicator_rows,
        per_1000_rows,
        to_csv,
    )
    from services.municipality_gateway.schemas import ComparisonReport

    if age not in AGE_COLUMNS:
        err.print(f"[red]error:[/red] --age is one of {', '.join(AGE_COLUMNS)}")
        raise typer.Exit(2)
    try:
        body = client.get_json(
            f"{gateway.rstrip('/')}/v1/submissions/{submission_id}/comparison", token, verify=_verify(ca)
        )
    except client.ChainError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(body)
        return
    report = ComparisonReport.model_validate(body)
    if csv_file is not None:
        csv_file.write_text(to_csv(report), encoding="utf-8")
    cols = columns(report, "en")
    console.print(f"Comparison statistics for municipality {report.municipality}, year {report.year}")
    for title, rows in (
        (f"Recipients per 1,000 inhabitants, age {age}", per_1000_rows(report, age, "en")),
        ("Indicators", indicator_rows(report, "en")),
    ):
        table = Table(title=title)
        table.add_column("")
        for col in cols:
            table.add_column(col.label, justify="right")
        for row in rows:
            cells = [_shown(f.value, f.note) for f in row.figures]
            table.add_row(f"{row.label} ({row.unit})", *cells)
        console.print(table)
    console.print("hidden: fewer than 5 persons, or a figure that would give one away; n/a: nothing to compute from")
    if csv_file is not None:
        console.print(f"every figure: {csv_file}")


def _shown(value: float | None, note: str | None) -> str:
    if value is not None:
        return f"{value:g}"
    return {"suppressed": "hidden", "no-register": "no register"}.get(note or "", "n/a")


@app.command()
def soak(
    submissions: Annotated[int, typer.Option(help="Submissions to send", min=1)] = 200,
    faults: Annotated[
        int | None, typer.Option(help="SIGKILLs of the services' processes (default: one per submission)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the exports and the fault schedule")] = 7,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder for the chain's state (default: a new temp dir)")
    ] = None,
    max_seconds: Annotated[float, typer.Option(help="Give up after this long")] = 900.0,
    database: DatabaseOption = "sqlite",
    postgres_url: PostgresUrlOption = None,
    keep: Annotated[bool, typer.Option(help="Keep the PostgreSQL databases after the run (they are named)")] = False,
    workers: Annotated[int, typer.Option(help="Processes of each service", min=1)] = 2,
) -> None:
    """Send many submissions while killing processes of the gateway, the TPF and the registry at random (one
    worker, or a whole service); report lost, duplicated and partially visible submissions (all must be zero)."""
    import tempfile

    from iplos_testkit.soak import run_soak
    from iplos_testkit.soak.databases import DATABASES

    if database not in DATABASES:
        raise typer.BadParameter(f"one of {', '.join(DATABASES)}", param_hint="--database")
    folder = state_dir or Path(tempfile.mkdtemp(prefix="iplos-soak-"))
    result = run_soak(
        folder,
        submissions,
        seed,
        console,
        max_seconds=max_seconds,
        max_faults=faults,
        workers=workers,
        database=database,
        postgres_url=postgres_url,
        keep_databases=keep,
    )
    for line in result.summary_lines():
        console.print(line)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def bench(
    municipalities: Annotated[
        int, typer.Option(help="Municipalities in the year (the real kommunenummer, Oslo first)", min=1, max=357)
    ] = 357,
    persons: Annotated[
        int, typer.Option(help="Persons in the whole year, Zipf-sized over the municipalities", min=1)
    ] = (350_000),
    oslo_times: Annotated[
        float | None,
        typer.Option(
            show_default=False,
            help="Instead of a year: one export of Oslo's size in the national year times this (4: the large one)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic year (a cached year is reused per seed)")] = 1,
    workers: Annotated[int, typer.Option(help="Processes of each service", min=1)] = 1,
    database: DatabaseOption = "sqlite",
    postgres_url: PostgresUrlOption = None,
    concurrency: Annotated[int, typer.Option(help="Uploads in flight at once (largest first)", min=1)] = 4,
    cache: Annotated[Path, typer.Option(help="Where generated years are kept and reused")] = Path(".bench-cache"),
    state_dir: Annotated[
        Path | None,
        typer.Option(help="A new folder for the chain's state, kept (default: a temp dir, removed afterwards)"),
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the ratio is above 3.0 or any process's peak RSS above 150 MB")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between reads of the gateway's list while waiting", min=0.05)] = (
        1.0
    ),
    years_stored: Annotated[
        int | None,
        typer.Option(
            min=2,
            show_default=False,
            help="Instead of the chain: the registry's cost of replacing a year with 1, then this many years "
            "stored (PostgreSQL, rows written straight through the registry's repository)",
        ),
    ] = None,
    year_persons: Annotated[int, typer.Option(help="Persons per stored year, with --years-stored", min=10)] = (350_000),
) -> None:
    """A national-shaped year (generated once, cached) through the three real services: wall time against one
    plain lxml read of the same files, persons per second, CPU seconds, peak RSS and time per stage per service.
    Takes minutes at the default size. Exit 1 unless every file is stored (and, with --check, on target)."""
    from iplos_testkit.bench import BenchOptions, oslo_persons, run_bench
    from iplos_testkit.bench.table import result_tables
    from iplos_testkit.soak.databases import DATABASES

    if database not in DATABASES:
        raise typer.BadParameter(f"one of {', '.join(DATABASES)}", param_hint="--database")
    if years_stored is not None:
        _bench_years(years_stored, year_persons, postgres_url, json_file)
        return
    if oslo_times is not None:
        municipalities, persons = 1, max(1, round(oslo_persons() * oslo_times))
    options = BenchOptions(
        municipalities=municipalities,
        persons=persons,
        seed=seed,
        workers=workers,
        database=database,
        postgres_url=postgres_url,
        concurrency=concurrency,
        cache=cache,
        state_dir=state_dir,
        poll_s=poll,
    )
    try:
        result = run_bench(options, console)
    except client.ChainError as exc:
        raise _fail(exc) from None
    for table in result_tables(result):
        console.print(table)
    if json_file is not None:
        json_file.write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    problems = result.problems()
    failures = result.check_failures() if check else []
    for line in (*problems, *failures):
        err.print(f"[red]{escape(line)}[/red]")
    if problems or failures:
        raise typer.Exit(1)


def _bench_years(years: int, persons: int, postgres_url: str | None, json_file: Path | None) -> None:
    from iplos_testkit.bench.registry_years import measure_registry_years
    from iplos_testkit.soak.databases import postgres_server_url

    console.print(f"bench: filling a fresh PostgreSQL database with up to {years} years of {persons:,} persons ...")
    figures = measure_registry_years(postgres_server_url(postgres_url), persons_per_year=persons, steps=(1, years))
    table = Table(title="replacing one municipality's year (a tenth of a year's persons)")
    for column in ("years stored", "persons stored", "persons replaced", "wall s", "CPU s"):
        table.add_column(column, justify="right")
    for step in figures["steps"]:
        table.add_row(
            str(step["years_stored"]),
            f"{step['persons_stored']:,}",
            f"{step['replaced_persons']:,}",
            f"{step['replace_wall_s']:.3f}",
            f"{step['replace_cpu_s']:.3f}",
        )
    console.print(table)
    console.print(f"wall time, last step over first: {figures['wall_ratio_last_to_first']:.2f}")
    if json_file is not None:
        json_file.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


@app.command()
def demo(
    state_dir: Annotated[Path, typer.Option(help="Scratch folder for the demo (emptied first)")] = Path(".demo-state"),
) -> None:
    """Keys, three services, synthetic exports for several municipalities, a resubmission, a summary."""
    from iplos_testkit.demo import run_demo

    sys.exit(run_demo(state_dir, console))


if __name__ == "__main__":
    app()
