"""Issue 13, finding 8 (the shared working directory): `/zone/work` is opt-in and checked.

The caller's current directory was shared read-only at `/zone/work` by default, so a raw
export sitting there (`customers_export.csv` with the original values) could be read inside
and written out encoded. Now nothing is shared unless `--work DIR` is given, and a DIR whose
files the egress check flags (detectors, fingerprints, canaries) is refused before anything
runs.
"""

from __future__ import annotations

import pytest

from piizone.zones.sandbox import session as sandbox
from tests.zones.test_sandbox import require_isolation

RAW = "name,ssn,email\nMaria Gonzalez,219-09-9999,maria.gonzalez@example.com\n"


@pytest.fixture(scope="module")
def wzone(make_zone):
    require_isolation()
    return make_zone("wz", {"a.csv": RAW}).store


def _project(tmp_path, *, raw: bool):
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('training')\n")
    if raw:
        (project / "customers_export.csv").write_text(RAW)
    return project


def test_the_current_directory_is_not_shared_by_default(wzone, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(_project(tmp_path, raw=True))
    capfd.readouterr()
    result = sandbox.run_session(
        "wz",
        ["sh", "-c", "pwd; ls /zone/work 2>/dev/null || echo no-work"],
        out_dir=tmp_path / "out",
        home=wzone.home,
    )
    out = capfd.readouterr().out
    assert result.command_status == 0
    assert out.split() == ["/zone/home", "no-work"]


def test_work_dir_is_shared_when_asked(wzone, tmp_path, capfd):
    project = _project(tmp_path, raw=False)
    capfd.readouterr()
    result = sandbox.run_session(
        "wz",
        ["sh", "-c", "pwd; python train.py"],
        out_dir=tmp_path / "out",
        home=wzone.home,
        work=project,
    )
    assert result.exit_code == 0
    assert capfd.readouterr().out.split() == ["/zone/work", "training"]


def test_a_work_dir_holding_raw_data_is_refused(wzone, tmp_path):
    project = _project(tmp_path, raw=True)
    with pytest.raises(sandbox.SandboxError, match="--work") as e:
        sandbox.run_session("wz", ["true"], out_dir=tmp_path / "out", home=wzone.home, work=project)
    message = f"{e.value} {e.value.hint}"
    assert "customers_export.csv" in message
    assert "219-09-9999" not in message and "Maria" not in message


@pytest.mark.parametrize("where", ["home", "root"])
def test_a_work_dir_exposing_piizone_home_is_refused(wzone, tmp_path, where):
    work = wzone.home if where == "home" else wzone.home.parent
    with pytest.raises(sandbox.SandboxError, match="PIIZONE_HOME"):
        sandbox.run_session("wz", ["true"], out_dir=tmp_path / "out", home=wzone.home, work=work)
