"""zones/lineage/artifacts.py and openlineage.py: the registry of released files and its
OpenLineage export."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from piizone.zones.lineage.artifacts import (
    Artifact,
    ArtifactError,
    argv_digest,
    code_digest,
    file_sha256,
    get_artifact,
    list_artifacts,
    new_artifact_id,
    now,
    register,
)
from piizone.zones.lineage.openlineage import run_events


def make(
    home: Path, *, zone: str = "churn", session: str = "s1", name: str = "model.pkl"
) -> Artifact:
    artifact = Artifact(
        id=new_artifact_id(),
        name=name,
        sha256="ab" * 32,
        bytes=12,
        zone=zone,
        zone_id="f" * 32,
        zone_version=2,
        policy_sha256="cd" * 32,
        session=session,
        command="python",
        argv_sha256=argv_digest(["python", "train.py"]),
        code_sha256=None,
        user="ada",
        uid=1000,
        created=now(),
        verdict="released",
    )
    register(artifact, home)
    return artifact


def test_register_list_show_round_trip(tmp_path: Path) -> None:
    a = make(tmp_path)
    b = make(tmp_path, zone="fraud")
    assert {x.id for x in list_artifacts(tmp_path)} == {a.id, b.id}
    assert [x.id for x in list_artifacts(tmp_path, zone="fraud")] == [b.id]
    assert get_artifact(a.id[:8], tmp_path) == a
    record = tmp_path / "artifacts" / f"{a.id}.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert json.loads(record.read_text())["format"] == "piizone-artifact"


def test_an_id_is_never_overwritten(tmp_path: Path) -> None:
    a = make(tmp_path)
    with pytest.raises(FileExistsError):
        register(a, tmp_path)


@pytest.mark.parametrize("bad", ["", "a1", "../../etc", "a-b-c-d", "zzzzzzzz"])
def test_unknown_or_malformed_ids_are_one_clear_error(tmp_path: Path, bad: str) -> None:
    make(tmp_path)
    with pytest.raises(ArtifactError):
        get_artifact(bad, tmp_path)


def test_a_damaged_record_is_named_not_a_traceback(tmp_path: Path) -> None:
    a = make(tmp_path)
    (tmp_path / "artifacts" / f"{a.id}.json").write_text('{"format": "piizone-artifact"')
    with pytest.raises(ArtifactError, match="damaged"):
        list_artifacts(tmp_path)


def test_code_digest_follows_content_and_names_not_links(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print(1)\n")
    first = code_digest(code)
    (code / "train.py").write_text("print(2)\n")
    second = code_digest(code)
    os.symlink("/etc/passwd", code / "link")
    third = code_digest(code)
    assert len({first, second, third}) == 3
    assert file_sha256(code / "train.py") != first


def test_openlineage_events_group_a_session_and_name_the_zone_version(tmp_path: Path) -> None:
    a = make(tmp_path, session="s1", name="model.pkl")
    b = make(tmp_path, session="s1", name="metrics.json")
    c = make(tmp_path, session="s2", name="other.bin")
    events = run_events([a, b, c])
    assert len(events) == 2
    first = next(e for e in events if len(e["outputs"]) == 2)
    assert first["eventType"] == "COMPLETE"
    assert first["inputs"][0]["name"] == "zone/churn"
    assert first["inputs"][0]["facets"]["version"]["datasetVersion"] == f"{'f' * 32}:v2"
    assert {o["name"] for o in first["outputs"]} == {
        f"artifact/{a.id}/model.pkl",
        f"artifact/{b.id}/metrics.json",
    }
    assert first["run"]["runId"] != next(e for e in events if e is not first)["run"]["runId"]
    json.dumps(events)  # serialisable as is
