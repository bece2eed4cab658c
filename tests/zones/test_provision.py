"""Provisioning: create_zone / refresh_zone on tiny real sources (files, SQLite, PostgreSQL):
staging and publish, reuse on refresh, pseudonyms, audit outcomes, and failures mid-build."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pandas as pd
import pytest

import piizone.zones.provision.build as provision
from piizone.scrubbers.operators import pseudonym_token
from piizone.scrubbers.progress import ProgressUpdate
from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.lifecycle import init_home, unwrap_zone_key, verify_zone
from piizone.zones.provision.build import ZoneRequest, create_zone, refresh_zone
from piizone.zones.provision.staging import load_report
from piizone.zones.storage.crypto import EncryptingWriter, iter_decrypt
from piizone.zones.storage.keys import ensure_pseudonym_key
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from tests.conftest import SAMPLE_DATA

EMAIL = "devin.sparks@yahoo.com"
PSEUDO_POLICY = "version: 1\nentities:\n  EMAIL_ADDRESS: {operator: pseudonymize}\n  PERSON: {}\n"


@pytest.fixture
def store(piizone_home: Path) -> ZoneStore:
    init_home(piizone_home)
    return ZoneStore(piizone_home)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "people.csv").write_text(
        f"name,email\nDevin Sparks,{EMAIL}\nTrevor Fritz,fritz.trevor@james.com\n"
    )
    (d / "a.txt").write_text("Agent: hello.\nCustomer: thanks, bye.\n")
    (d / "b.txt").write_text("Customer: this is Michelle Hall.\n")
    return d


def plaintext(store: ZoneStore, name: str, path: str, version: int | None = None) -> bytes:
    m = store.manifest(name, version)
    dek = unwrap_zone_key(store, m)
    with open(store.version_dir(name, m.version) / path, "rb") as f:
        return b"".join(iter_decrypt(f, dek, zone_id=m.id, path=path))


def last(store: ZoneStore) -> dict:
    return list(audit.open_audit_log(store.home).records())[-1]


def staging(store: ZoneStore) -> list[Path]:
    d = store.root / ".staging"
    return list(d.iterdir()) if d.is_dir() else []


def test_create_then_refresh_reuses_by_content_hash(store: ZoneStore, src: Path) -> None:
    updates: list[ProgressUpdate] = []
    first = create_zone(ZoneRequest("z", [str(src)], purpose="p"), store, updates.append)
    positions = sorted({u.position for u in updates if u.position})
    assert positions == [(1, 3), (2, 3), (3, 3)] and first.reused == []
    assert last(store)["action"] == "zone.create" and last(store)["outcome"] == "success"

    again = refresh_zone("z", store)  # nothing changed: everything reused, a new version anyway
    assert sorted(again.reused) == ["src/a.txt", "src/b.txt", "src/people.csv"]
    assert (again.manifest.version, again.manifest.parent) == (2, 1)

    (src / "b.txt").write_text("Customer: this is Trevor Fritz now.\n")
    (src / "c.txt").write_text("Customer: a new file.\n")
    third = refresh_zone("z", store)
    assert sorted(third.reused) == ["src/a.txt", "src/people.csv"]
    assert third.manifest.parent == 2 and store.versions("z") == [1, 2, 3]
    assert "data/src/c.txt" in {f.path for f in third.manifest.files}
    assert b"Trevor Fritz" not in plaintext(store, "z", "data/src/b.txt")
    rec = last(store)
    assert (rec["action"], rec["details"]["reused"], rec["details"]["parent"]) == (
        "zone.refresh",
        2,
        2,
    )
    assert verify_zone("z", store).ok


def test_refresh_with_the_file_gone_fails_and_keeps_the_zone(store: ZoneStore, src: Path) -> None:
    create_zone(ZoneRequest("z", [str(src)]), store)
    (src / "b.txt").unlink()
    result = refresh_zone("z", store)  # a file removed from a directory source is just gone
    assert "data/src/b.txt" not in {f.path for f in result.manifest.files}
    assert "data/src/b.txt" in {f.path for f in store.manifest("z", 1).files}


def test_pseudonyms_match_across_files_and_versions(
    store: ZoneStore, src: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(PSEUDO_POLICY)
    create_zone(ZoneRequest("z", [str(src)], policy_path=str(policy)), store)
    token = pseudonym_token(ensure_pseudonym_key(store.home), "EMAIL_ADDRESS", EMAIL)
    assert token.encode() in plaintext(store, "z", "data/src/people.csv")
    (src / "a.txt").write_text(f"Customer: write to {EMAIL} please.\n")
    refresh_zone("z", store)
    v2 = plaintext(store, "z", "data/src/a.txt")
    assert token.encode() in v2 and EMAIL.encode() not in v2
    assert plaintext(store, "z", "data/src/people.csv", 1) == plaintext(
        store, "z", "data/src/people.csv", 2
    )


def test_a_failing_writer_leaves_no_staging_and_is_audited(
    store: ZoneStore, src: Path, monkeypatch
) -> None:
    create_zone(ZoneRequest("z", [str(src)]), store)
    (src / "b.txt").write_text("Customer: changed.\n")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(EncryptingWriter, "write", full)
    with pytest.raises(ZoneError, match="zone 'z' not written: No space left on device"):
        refresh_zone("z", store)
    with pytest.raises(ZoneError, match="No space left on device"):
        create_zone(ZoneRequest("y", [str(src)]), store)
    rec = last(store)
    assert (rec["action"], rec["zone"], rec["outcome"]) == ("zone.create", "y", "failure")
    assert staging(store) == [] and store.versions("z") == [1] and not store.exists("y")


def test_ctrl_c_mid_build_removes_staging(store: ZoneStore, src: Path) -> None:
    def interrupt(update: ProgressUpdate) -> None:
        if update.position == (2, 3):  # the second of three items
            assert staging(store), "the build happens in staging"
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_zone(ZoneRequest("z", [str(src)]), store, interrupt)
    assert staging(store) == [] and not store.exists("z") and store.versions("z") == []
    rec = last(store)
    assert (rec["action"], rec["outcome"], rec["details"]["error"]) == (
        "zone.create",
        "failure",
        "interrupted",
    )


def test_audit_failure_at_publish_unpublishes(store: ZoneStore, src: Path, monkeypatch) -> None:
    """Fail closed: if the success record cannot be written, the new version is withdrawn."""
    create_zone(ZoneRequest("z", [str(src)]), store)
    real = audit.record

    def refuse(action, **kw):
        if kw.get("outcome", "success") == "success" and action == "zone.refresh":
            raise audit.AuditError("audit log not writable")
        return real(action, **kw)

    monkeypatch.setattr(provision.audit, "record", refuse)
    (src / "a.txt").write_text("Customer: new text.\n")
    with pytest.raises(audit.AuditError):
        refresh_zone("z", store)
    assert store.versions("z") == [1] and store.manifest("z").version == 1
    assert staging(store) == []


def test_invalid_names_are_audited_without_a_zone(store: ZoneStore, src: Path) -> None:
    for name in ("../x", "a/b", ".hidden", "x\n"):
        with pytest.raises(ZoneError, match="invalid zone name"):
            create_zone(ZoneRequest(name, [str(src)]), store)
        rec = last(store)
        assert (rec["action"], rec["zone"], rec["outcome"]) == ("zone.create", None, "failure")
    with pytest.raises(ZoneError, match="invalid zone name"):
        refresh_zone("../x", store)
    assert store.names() == []


def test_sqlite_tables_and_queries_are_redacted(store: ZoneStore, sqlite_url: str) -> None:
    create_zone(
        ZoneRequest("t", [f"{sqlite_url}?query=SELECT * FROM customers WHERE customer_id <= 30"]),
        store,
    )
    create_zone(
        ZoneRequest("q", [f"{sqlite_url}?query=SELECT full_name, ssn FROM customers LIMIT 5"]),
        store,
    )
    t = pd.read_parquet(io.BytesIO(plaintext(store, "t", store.manifest("t").files[0].path)))
    key = ensure_pseudonym_key(store.home)  # identifier columns are pseudonymized by default
    raw = pd.read_csv(SAMPLE_DATA / "customers.csv", dtype=str).head(30)
    assert len(t) == 30
    assert list(t["ssn"]) == [pseudonym_token(key, "US_SSN", v) for v in raw["ssn"]]
    assert list(t["email"]) == [pseudonym_token(key, "EMAIL_ADDRESS", v) for v in raw["email"]]
    assert t["plan"].isin(["basic", "plus", "premium"]).all()  # clean columns kept
    (path,) = [f.path for f in store.manifest("q").files]
    q = pd.read_parquet(io.BytesIO(plaintext(store, "q", path)))
    assert list(q.columns) == ["full_name", "ssn"]
    assert q["full_name"].str.fullmatch(r"<PERSON_[0-9a-f]{8}>").all()
    assert store.manifest("t").files[0].entities["US_SSN"] == 30


def test_postgresql_password_is_never_stored(store: ZoneStore, pg_url: str, monkeypatch) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    spec = f"{pg_url}?query=SELECT customer_id, ssn FROM customers ORDER BY customer_id LIMIT 3"
    create_zone(ZoneRequest("pg", [spec]), store)
    manifest_text = (store.current_dir("pg") / "manifest.json").read_text()
    assert url.password and url.password not in manifest_text
    log = b"".join(p.read_bytes() for p in (store.home / "audit").iterdir())
    assert url.password.encode() not in log
    monkeypatch.setenv("PGPASSWORD", url.password)
    result = refresh_zone("pg", store)  # the password comes from the environment, as libpq does
    assert result.reused == [result.manifest.files[0].path.removeprefix("data/")]
    frame = pd.read_parquet(io.BytesIO(plaintext(store, "pg", result.manifest.files[0].path)))
    assert frame["ssn"].str.fullmatch(r"<US_SSN_[0-9a-f]{8}>").all() and len(frame) == 3


def test_a_transcript_directory_with_two_workers_gives_the_same_zone(store: ZoneStore) -> None:
    # With a pool, transcript files are analysed several at a time (scrubbers/prefetch.py):
    # the redacted files, their entity counts and the scan report must not change.
    calls = str(SAMPLE_DATA / "call_transcripts")
    one = create_zone(ZoneRequest("one", [calls], engine={"workers": 1}), store).manifest
    two = create_zone(ZoneRequest("two", [calls], engine={"workers": 2}), store).manifest

    def files(m: ZoneManifest) -> list[tuple]:
        return [(f.path, f.sha256, f.rows, f.entities) for f in m.files]

    assert files(one) == files(two) and len(one.files) > 10
    assert one.scan == two.scan


def test_a_text_file_is_analysed_once_for_its_report_and_its_redaction(
    store: ZoneStore, tmp_path: Path, monkeypatch
) -> None:
    # zone create builds a text file's report from the redactor's own passes: nothing is
    # analysed twice, even for a file the engine's memo cannot hold (over its long-text
    # budget, made so here), and the report is the one `scan` gives.
    from piizone.scrubbers.engine import Engine, FindingsMemo, engine_for
    from piizone.scrubbers.policy import load_policy
    from piizone.scrubbers.scan import scan_file

    call = (SAMPLE_DATA / "call_transcripts" / "call_003.txt").read_text()
    d = tmp_path / "calls"
    d.mkdir()
    (d / "long.txt").write_text("".join(f"[segment {i}]\n{call}" for i in range(40)))
    monkeypatch.setattr(FindingsMemo, "MAX_LONG_TEXT", 0)
    windows: list[str] = []
    real = Engine.analyze_windows
    monkeypatch.setattr(
        Engine, "analyze_windows", lambda self, w, *a: windows.extend(w) or real(self, w, *a)
    )
    result = create_zone(ZoneRequest("z", [str(d)], engine={"workers": 1}), store)
    in_zone = len(windows)
    windows.clear()
    expected = scan_file(d / "long.txt", engine_for(load_policy()))
    assert in_zone == len(windows) > 1  # one analysis: as many windows as the scan alone
    version = store.version_dir("z", result.manifest.version)
    (got,) = load_report(version).values()
    expected.path = got.path
    assert got == expected and expected.entities and expected.samples
