"""``iplos submit --wait`` through the real chain (TLS, three processes), its output not a terminal: plain lines that
show the upload, the sealing at the gateway, and then the submission's states in the order the chain went through
them, ending stored; stdout's lines stay what they were (the id, then the final status)."""

from __future__ import annotations

from typer.testing import CliRunner

from iplos_chain import Chain
from iplos_chain.progress import SEALING, STATE_TEXT
from iplos_cli.main import app

ORDER = ["queued", "forwarded", "stored"]
# A municipality-year no other end-to-end test submits (the tampering tests, for one, read every year of Stavanger
# and post low sequence numbers that a gateway's submission would make stale).
MUNICIPALITY, YEAR = "5001", 2022


def test_iplos_submit_shows_the_upload_and_the_states_in_order(chain: Chain, make_export) -> None:  # type: ignore[no-untyped-def]
    export = make_export(MUNICIPALITY, 40, year=YEAR, seed=71)
    env = {"IPLOS_TOKEN": chain.municipality_token(MUNICIPALITY)}
    runner = CliRunner()
    done = runner.invoke(
        app, ["submit", str(export.path), "--gateway", chain.url("gateway"), "--wait", "--timeout", "120"], env=env
    )
    assert done.exit_code == 0, done.output
    lines = [line.split("] ", 1)[1] for line in done.output.splitlines() if line.startswith("[")]
    size = export.path.stat().st_size
    assert lines[0] == f"upload: {size / 1_000_000:.1f} MB"
    assert lines[1].startswith(f"upload: {size / 1_000_000:.1f} MB of {size / 1_000_000:.1f} MB (100%)")
    assert lines[2:4] == [SEALING, f"accepted by the gateway ({export.persons} records)"]
    # Then each state the gateway showed, in the chain's order; a state may pass between two looks (a healthy chain
    # stores a small export within one), the last one is stored.
    states = [next(s for s in ORDER if line.startswith(STATE_TEXT[s])) for line in lines[4:]]
    assert states[-1:] == ["stored"]
    assert states == sorted(states, key=ORDER.index)
    assert lines[-1] == f"{STATE_TEXT['stored']} ({export.persons} records)"
    assert '"state": "stored"' in done.output
    assert "accepted (" in done.output
