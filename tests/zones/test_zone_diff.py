"""`zone diff`: drift between two versions of a real zone, decrypted in memory only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.lifecycle import init_home
from piizone.zones.lineage.diff import diff_zone
from piizone.zones.provision.build import ZoneRequest, create_zone, refresh_zone
from piizone.zones.storage.store import ZoneStore

runner = CliRunner()
# Columns a policy leaves alone (no PII): their distributions survive redaction unchanged.
POLICY = "version: 1\nentities:\n  EMAIL_ADDRESS: {}\n"


def _frame(n: int, spend_mean: float, plans: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": range(n),
            "email": [f"user{i}@example.com" for i in range(n)],
            "monthly_spend": rng.normal(spend_mean, 10, n).round(2),
            "plan": rng.choice(plans, n),
        }
    )


@pytest.fixture
def zone(piizone_home: Path, tmp_path: Path) -> tuple[ZoneStore, Path]:
    init_home(piizone_home)
    store = ZoneStore(piizone_home)
    source = tmp_path / "src" / "customers.csv"
    source.parent.mkdir()
    _frame(400, 50, ["basic", "plus"], 1).to_csv(source, index=False)
    (tmp_path / "policy.yaml").write_text(POLICY)
    request = ZoneRequest("churn", [str(source)], policy_path=str(tmp_path / "policy.yaml"))
    create_zone(request, store)
    _frame(400, 65, ["basic", "plus", "premium"], 2).to_csv(source, index=False)
    refresh_zone("churn", store)
    return store, source


def test_the_shifted_column_and_the_new_category_show(zone) -> None:
    store, _ = zone
    diff = diff_zone("churn", store=store)
    assert (diff.old_version, diff.new_version) == (1, 2)
    (table,) = diff.tables
    by_name = {c.column: c for c in table.columns}
    assert by_name["monthly_spend"].level == "major"
    assert by_name["plan"].new_categories == ["premium"]
    assert by_name["customer_id"].kind == "numeric" and by_name["customer_id"].level == "stable"
    # Pseudonymized (identifier_columns): one token per address, an identifier, not compared.
    assert (by_name["email"].kind, by_name["email"].level) == ("identifier", "n/a")
    assert diff.worst_psi == max(c.psi for c in table.columns if c.psi is not None)
    assert by_name["plan"].level == "major"  # a third of the rows in a category never seen
    actions = [r["action"] for r in audit.open_audit_log(store.home).records()]
    assert actions[-1] == "zone.diff"


def test_nothing_is_written_to_disk_in_plaintext(zone, tmp_path: Path) -> None:
    store, _ = zone
    before = {p for p in store.home.rglob("*") if p.is_file()}
    diff_zone("churn", "v1", "v2", store=store)
    new_files = {p for p in store.home.rglob("*") if p.is_file()} - before
    assert {p.relative_to(store.home).parts[0] for p in new_files} <= {"audit"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "v9"], "has no version 9"),
        (["--from", "other/v1"], "is not a version"),
        (["--to", "v1"], "nothing to compare"),
    ],
)
def test_bad_versions_are_one_error_line_exit_2(zone, args, message) -> None:
    result = runner.invoke(app, ["zone", "diff", "churn", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_an_unknown_zone_is_an_error(zone) -> None:
    with pytest.raises(ZoneError):
        diff_zone("nozone", store=zone[0])


def test_json_and_html_formats(zone, tmp_path: Path) -> None:
    as_json = json.loads(runner.invoke(app, ["zone", "diff", "churn", "--json"]).output)
    assert as_json["from"] == 1 and as_json["tables"][0]["rows_new"] == 400
    page = tmp_path / "drift.html"
    result = runner.invoke(app, ["zone", "diff", "churn", "--format", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<svg" in text and "monthly_spend" in text and "premium" in text
    assert "http" not in text.replace("http-equiv", "")  # self-contained
    assert "user1@example.com" not in text


def test_a_user_without_a_grant_may_not_diff(zone) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to act as another uid")  # the identity tests cover non-root
    store, _ = zone
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.setresuid(65534, 0, 0)  # the actor is the real uid (as tests/security/test_identity)
        try:
            diff_zone("churn", store=store)
            os._exit(0)
        except Exception as e:  # noqa: BLE001
            os._exit(3 if "may not read" in str(e) else 4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3
    denial = list(audit.open_audit_log(store.home).records())[-1]
    assert (denial["action"], denial["details"]["operation"]) == ("access.denied", "diff")
