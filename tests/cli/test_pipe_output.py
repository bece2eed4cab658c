"""Output that fits pipes: listings are never cut when stdout is not a terminal."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone
from piizone.zones.storage.store import ZoneStore

runner = CliRunner()  # its stdout is not a terminal, as in `piizone zone list | grep`
LONG = "customer-churn-training-zone-for-the-quarterly-model-refresh"


def test_listings_are_not_cut_in_a_pipe(piizone_home: Path, tmp_path: Path) -> None:
    init_home(piizone_home)
    source = tmp_path / "a.txt"
    source.write_text("plain text\n")
    store = ZoneStore(piizone_home)
    create_zone(ZoneRequest(LONG, [str(source)], purpose="x" * 150), store)
    listing = runner.invoke(app, ["zone", "list"])
    assert listing.exit_code == 0 and LONG in listing.output
    expires = store.manifest(LONG).expires
    assert expires in listing.output or expires.replace("T", " ").rstrip("Z") in listing.output
    log = runner.invoke(app, ["audit", "log", "--zone", LONG])
    assert "details: widen the terminal" not in log.output
    assert "…" not in log.output and "zone.create" in log.output
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0 and "{" not in status.output and "keyfile" in status.output
