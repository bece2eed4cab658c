"""Issue 17's whole retraining loop, end to end through the CLI (real files, real bubblewrap,
real uids): create -> a source changes -> `status` says stale -> `refresh --if-changed` makes v2
and runs the hook -> `diff` shows the shifted column's PSI -> a sandbox run on v2 releases a
model file that `artifacts list` shows with v2's lineage -> an output with a planted value is
held, refused to its own author, approved by a second user, released -> all of it in
`audit log` and in the OpenLineage export.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from tests.security.test_airlock import NOBODY, PLANTED, cli
from tests.zones.test_sandbox import require_isolation

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a second user needs root")


def _customers(mean: float, plans: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": range(300),
            "monthly_spend": rng.normal(mean, 8, 300).round(2),
            "plan": rng.choice(plans, 300),
        }
    )


def _ok(done) -> str:
    assert done.returncode == 0, (done.args[3:], done.stdout, done.stderr)
    return done.stdout


def test_the_whole_retraining_loop(tmp_path) -> None:
    require_isolation()
    os.chmod(tmp_path, 0o755)
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    source = src / "customers.csv"
    _customers(40, ["basic", "plus"], 1).to_csv(source, index=False)
    _ok(cli(home, "init"))
    _ok(cli(home, "zone", "create", "churn", "--from", str(src)))
    assert json.loads(_ok(cli(home, "zone", "status", "churn", "--json")))["stale"] is False

    # Production moved on: spend went up and a new plan appeared.
    _customers(55, ["basic", "plus", "premium"], 2).to_csv(source, index=False)
    assert json.loads(_ok(cli(home, "zone", "status", "churn", "--json")))["stale"] is True
    hook_out = tmp_path / "hook.txt"
    hook = (
        f"{sys.executable} -c \"import os; open('{hook_out}', 'w')"
        ".write(os.environ['PIIZONE_ZONE'] + ':' + os.environ['PIIZONE_ZONE_VERSION'])\""
    )
    _ok(cli(home, "zone", "refresh", "churn", "--if-changed", "--on-new-version", hook))
    assert hook_out.read_text() == "churn:2"
    again = cli(home, "zone", "refresh", "churn", "--if-changed")
    assert again.returncode == 3, again.stderr  # nothing changed since v2: no v3

    drift = json.loads(_ok(cli(home, "zone", "diff", "churn", "--json")))
    assert (drift["from"], drift["to"]) == (1, 2)
    columns = {c["column"]: c for c in drift["tables"][0]["columns"]}
    assert columns["monthly_spend"]["level"] == "major" and columns["monthly_spend"]["psi"] > 0.25
    assert columns["plan"]["new_categories"] == ["premium"]

    # Train on v2: the model file leaves with its lineage; samples with a planted value are held.
    out = tmp_path / "models"
    script = (
        "find /zone/data -name '*.csv' -exec wc -l {} + > /zone/out/model.txt && "
        f"printf 'sample\\n{PLANTED}\\n' > /zone/out/samples.txt"
    )
    run = cli(home, "sandbox", "run", "churn", "--out", str(out), "--", "sh", "-c", script)
    assert run.returncode == 1, run.stderr  # one output held
    artifacts = json.loads(_ok(cli(home, "artifacts", "list", "--zone", "churn", "--json")))
    [model] = [a for a in artifacts if a["name"] == "model.txt"]
    assert (model["zone_version"], model["verdict"]) == (2, "released")
    [held] = [
        r
        for r in json.loads(_ok(cli(home, "airlock", "list", "--json")))
        if r["status"] == "pending"
    ]
    assert held["name"] == "samples.txt" and PLANTED not in json.dumps(held)

    refused = cli(home, "airlock", "reject", held["id"], "--reason", "mine")
    assert refused.returncode == 1, refused.stderr  # its author may not decide on it
    _ok(cli(home, "airlock", "approve", held["id"], "--reason", "synthetic", uid=NOBODY.pw_uid))
    released = [p for p in out.rglob("samples.txt")]
    assert len(released) == 1 and PLANTED in released[0].read_text()
    artifacts = json.loads(_ok(cli(home, "artifacts", "list", "--zone", "churn", "--json")))
    [approved] = [a for a in artifacts if a["verdict"] == "approved"]
    assert approved["approved_by"] == "nobody" and approved["zone_version"] == 2

    log = json.loads(_ok(cli(home, "audit", "log", "--zone", "churn", "--json")))
    actions = [r["action"] for r in log]
    for action in (
        "zone.create", "zone.status", "zone.refresh", "zone.hook", "zone.diff",
        "session.start", "egress.scan", "session.end", "artifacts.register",
        "airlock.approve",
    ):  # fmt: skip
        assert action in actions, action
    assert any(r["action"] == "access.denied" for r in log)
    assert PLANTED not in json.dumps(log)
    events = json.loads(_ok(cli(home, "artifacts", "export", "--format", "openlineage")))
    names = {o["name"] for e in events for o in e["outputs"]}
    assert {f"artifact/{model['id']}/model.txt", f"artifact/{approved['id']}/samples.txt"} <= names
    assert all(e["inputs"][0]["name"] == "zone/churn" for e in events)
    _ok(cli(home, "audit", "verify"))
