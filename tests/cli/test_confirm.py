"""Confirmation on a terminal: declining is a refusal (exit 1), not a usage error (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone
from piizone.zones.storage.store import ZoneStore
from tests.cli.conftest import run_on_a_terminal


def test_declining_a_destroy_exits_1_and_keeps_the_zone(piizone_home: Path, tmp_path: Path):
    init_home(piizone_home)
    source = tmp_path / "a.txt"
    source.write_text("plain text\n")
    store = ZoneStore(piizone_home)
    create_zone(ZoneRequest("keep", [str(source)]), store)
    env = {**os.environ, "PIIZONE_HOME": str(piizone_home)}
    code, output, _ = run_on_a_terminal(["zone", "destroy", "keep"], answer=b"n\n", env=env)
    assert code == 1, output
    assert "error: cancelled" in output
    assert store.exists("keep")
