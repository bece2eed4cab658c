"""`piizone audit log|verify|export|ropa` through the real app, exit codes and output."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit

runner = CliRunner()
SEG1 = audit.segment_name(1)


def run(*args: str):
    return runner.invoke(app, ["audit", *args])


@pytest.fixture
def home(piizone_home: Path) -> Path:
    for i in range(10):
        audit.record("zone.open", zone="customers" if i % 2 else "other", details={"i": i})
    return piizone_home


def lines(home: Path) -> list[bytes]:
    return (home / "audit" / SEG1).read_bytes().split(b"\n")[:-1]


def write(home: Path, new: list[bytes]) -> None:
    (home / "audit" / SEG1).write_bytes(b"".join(line + b"\n" for line in new))


def last_record(home: Path) -> dict:
    return list(audit.open_audit_log(home).records())[-1]


@pytest.mark.parametrize("command", ["log", "verify", "export", "ropa"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and f"piizone audit {command}" in result.output


def test_log_prints_a_table(home: Path) -> None:
    result = run("log", "--zone", "customers")
    assert result.exit_code == 0, result.output
    assert "zone.open" in result.output and "customers" in result.output
    assert "other" not in result.output


def test_log_json_applies_every_filter(home: Path) -> None:
    audit.record("zone.create", zone="customers", outcome="denied")
    me = last_record(home)["actor"]
    result = run(
        "log", "--json", "--zone", "customers", "--action", "zone.c*", "--actor", me["user"],
        "--since", "1h", "--until", "2999-01-01",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["action"] for r in records] == ["zone.create"]
    assert json.loads(run("log", "--json", "--actor", "no-such-user").output) == []


def test_log_with_no_match_says_so(home: Path) -> None:
    result = run("log", "--zone", "nowhere")
    assert result.exit_code == 0 and "no audit records match" in result.output


def test_a_bad_time_is_a_usage_error_with_a_hint(home: Path) -> None:
    result = run("log", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "error: cannot read time" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_verify_an_intact_log(home: Path) -> None:
    result = run("verify")
    assert result.exit_code == 0
    assert "intact: 10 record(s) in 1 file(s); head seq 10" in result.output


def test_verify_json(home: Path) -> None:
    result = run("verify", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["ok"] is True and data["records"] == 10


def _edit(home: Path) -> None:
    ls = lines(home)
    ls[4] = ls[4].replace(b'"i":4', b'"i":5')
    write(home, ls)


def _delete(home: Path) -> None:
    ls = lines(home)
    del ls[4]
    write(home, ls)


def _swap(home: Path) -> None:
    ls = lines(home)
    ls[4], ls[5] = ls[5], ls[4]
    write(home, ls)


def _drop_last(home: Path) -> None:
    write(home, lines(home)[:-1])


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (_edit, "edited: record seq 5 at audit-000001.jsonl line 5"),
        (_delete, "deleted: record seq 5 at audit-000001.jsonl line 5"),
        (_swap, "reordered: record seq 6 at audit-000001.jsonl line 5"),
        (_drop_last, "truncated: record seq 10 at audit-000001.jsonl line 10"),
    ],
    ids=["edit one byte", "delete", "swap", "drop last"],
)
def test_verify_names_the_first_bad_record(home: Path, tamper, expected: str) -> None:
    tamper(home)
    result = run("verify")
    assert result.exit_code == 1
    assert "FAILED" in result.output and expected in result.output


def test_verify_detects_an_old_head(piizone_home: Path) -> None:
    for _ in range(3):
        audit.record("zone.list")
    old = (piizone_home / "audit" / "head.json").read_bytes()
    for _ in range(3):
        audit.record("zone.list")
    (piizone_home / "audit" / "head.json").write_bytes(old)
    result = run("verify")
    assert result.exit_code == 1
    assert "stale_head: record seq 4 at audit-000001.jsonl line 4" in result.output


@pytest.mark.parametrize("fmt", ["ocsf", "jsonl", "csv"])
def test_export_writes_a_file_and_is_audited(home: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"
    result = run("export", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    text = out.read_text()
    if fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(text)))) == 10
    else:
        events = [json.loads(line) for line in text.splitlines()]
        assert len(events) == 10
        if fmt == "ocsf":
            assert {e["class_uid"] for e in events} == {6003}
    rec = last_record(home)
    assert rec["action"] == "audit.export" and rec["details"]["format"] == fmt
    assert rec["details"]["records"] == 10
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_to_stdout_with_filters(home: Path) -> None:
    result = run("export", "--format", "jsonl", "--zone", "customers")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 5


def test_export_rejects_an_unknown_format(home: Path) -> None:
    assert run("export", "--format", "xml").exit_code == 2


def test_export_fails_closed_when_it_cannot_be_audited(home: Path, tmp_path: Path) -> None:
    (home / "audit" / "head.json").write_bytes(b"{}")
    out = tmp_path / "export.jsonl"
    result = run("export", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: audit head file is invalid")
    assert "hint: run `piizone audit verify`" in result.stderr
    assert not out.exists()


def test_an_unwritable_audit_dir_is_one_error_line(piizone_home: Path) -> None:
    audit.ensure_audit_key(piizone_home)
    (piizone_home / "audit").write_text("a file where the audit directory should be")
    result = run("export")
    assert result.exit_code == 2
    assert "not writable" in result.stderr and "not performed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # error + hint


def _zone(home: Path, tmp_path: Path) -> Path:
    """A real zone `customers` (init + create_zone) from a tiny CSV and a tiny transcript.

    Returns the source directory (for commands that create another zone from it).
    """
    from piizone.zones.lifecycle import init_home
    from piizone.zones.provision.build import ZoneRequest, create_zone
    from piizone.zones.storage.store import ZoneStore

    src = tmp_path / "crm"
    src.mkdir()
    (src / "customers.csv").write_text(
        "customer_id,email,plan\n"
        "1,devin.sparks@yahoo.com,plus\n2,fritz.trevor@james.com,basic\n"
        "3,michelle.hall@yahoo.com,premium\n"
    )
    (src / "call.txt").write_text("Agent: Thanks for calling.\nCustomer: It works now, bye.\n")
    init_home(home)
    create_zone(
        ZoneRequest("customers", [str(src)], purpose="churn model", owner="ada"), ZoneStore(home)
    )
    return src


def test_ropa_prints_markdown_and_is_audited(home: Path, tmp_path: Path) -> None:
    _zone(home, tmp_path)
    result = run("ropa", "customers")
    assert result.exit_code == 0, result.stderr
    assert result.output.startswith("# Record of processing — zone `customers`")
    assert "| EMAIL_ADDRESS | 3 |" in result.output and "churn model" in result.output
    rec = last_record(home)
    assert rec["action"] == "audit.ropa" and rec["zone"] == "customers"
    out = tmp_path / "ropa.md"
    assert run("ropa", "customers", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("# Record of processing")


def test_ropa_of_a_missing_zone(home: Path) -> None:
    result = run("ropa", "ghost")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: zone 'ghost' does not exist")


def test_the_console_script_verifies(home: Path) -> None:
    # The real entry point, in a fresh process, against the same PIIZONE_HOME (once: the
    # import of the scan engine makes every run cost seconds).
    script = Path(sys.executable).parent / "piizone"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "piizone.cli.main"]
    _drop_last(home)
    proc = subprocess.run([*cmd, "audit", "verify"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "truncated" in proc.stdout


# ------------------------------------------------------------------------------------------
# Issue 4, item 5: every command that touches a zone leaves an audit record. Each command of
# the app must be listed in exactly one table below; a new command fails the walk until it is.

# command path -> (argv after the path, action its record must carry, zone it must name).
# "{src}" is the zone's source directory and "{out}" a fresh directory. `init`, `keys …`,
# `zone list` and `zone gc` act on the home, not on one zone: their records name no zone (None).
ZONE_COMMANDS: dict[str, tuple[list[str], str, str | None]] = {
    "audit ropa": (["customers"], "audit.ropa", "customers"),
    "audit export": (["--zone", "customers", "--format", "csv"], "audit.export", "customers"),
    "init": ([], "init", None),
    "zone create": (["fresh", "--from", "{src}"], "zone.create", "fresh"),
    "zone list": ([], "zone.list", None),
    "zone show": (["customers"], "zone.show", "customers"),
    "zone verify": (["customers"], "zone.verify", "customers"),
    "zone refresh": (["customers", "--force"], "zone.refresh", "customers"),
    "zone status": (["customers"], "zone.status", "customers"),
    "zone destroy": (["customers", "--yes"], "zone.destroy", "customers"),
    "zone hold": (["customers", "--on"], "zone.hold", "customers"),
    "zone grant": (["customers", "alice"], "zone.grant", "customers"),
    "zone revoke": (["customers", "alice"], "zone.revoke", "customers"),
    "zone grants": (["customers"], "zone.show", "customers"),
    "zone gc": (["--yes"], "zone.gc", None),
    "zone canary-check": (["customers", "{src}/call.txt"], "zone.canary_check", "customers"),
    "zone export-policy": (["customers", "-o", "{out}"], "zone.export_policy", "customers"),
    "keys status": ([], "key.status", None),
    "keys rotate": (["--yes"], "key.rotate", None),
    "keys retire": (["--yes"], "key.retire", None),
    "zone diff": (["customers", "--from", "v1", "--to", "v1"], "zone.diff", "customers"),
    "zone versions": (["customers"], "zone.show", "customers"),
    "zone extend": (["customers", "--ttl", "300d"], "zone.extend", "customers"),
    "zone prune": (["customers", "--keep", "1", "--yes"], "zone.prune", "customers"),
    "artifacts export": (["--format", "openlineage"], "artifacts.export", None),
    # A session leaves its start, the check of its outputs and its end (actions joined by "|").
    "sandbox run": (
        ["customers", "--out", "{out}", "--", "true"],
        "session.start|egress.scan|session.end",
        "customers",
    ),
}
# Commands that read or report without touching a zone.
# The artifact registry holds lineage metadata only (no zone data); its export is audited.
NOT_ZONE_COMMANDS = {
    "scan",
    "redact",
    "audit log",
    "audit verify",
    "artifacts list",
    "artifacts show",
    "policy show",
    "policy validate",
    "policy diff",
    "policy init",
}
# Interactive commands need a terminal; their records are tested in tests/cli/test_sandbox_cli.py.
INTERACTIVE_ZONE_COMMANDS = {"sandbox shell"}
# Long-running services: their start and stop records are tested in tests/zones/test_service.py.
SERVICE_COMMANDS = {"serve"}
# They need a quarantined output first: their records (and `airlock list`'s lack of one: a
# listing of masked names) are tested in tests/security/test_airlock.py.
AIRLOCK_COMMANDS = {"airlock list", "airlock show", "airlock approve", "airlock reject"}


def command_paths() -> list[str]:
    import typer.main

    def walk(cmd, path: tuple[str, ...]):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path)

    return sorted(walk(typer.main.get_command(app), ()))


def test_every_command_is_classified_for_auditing() -> None:
    unlisted = (
        set(command_paths())
        - set(ZONE_COMMANDS)
        - NOT_ZONE_COMMANDS
        - INTERACTIVE_ZONE_COMMANDS
        - SERVICE_COMMANDS
        - AIRLOCK_COMMANDS
    )
    assert not unlisted, (
        f"add {sorted(unlisted)} to ZONE_COMMANDS or NOT_ZONE_COMMANDS in {__file__}"
    )


@pytest.mark.parametrize("path", sorted(ZONE_COMMANDS))
def test_every_zone_command_leaves_an_audit_record(home: Path, tmp_path: Path, path: str) -> None:
    if path not in command_paths():
        pytest.fail(f"{path} is listed in ZONE_COMMANDS but not registered")
    src = _zone(home, tmp_path)
    argv, action, zone = ZONE_COMMANDS[path]
    argv = [a.format(src=src, out=tmp_path / "out") for a in argv]
    if path.startswith("sandbox"):  # the zone's owner is someone else: the test user needs a grant
        from piizone.zones.access import current_user
        from piizone.zones.lifecycle import set_grant
        from piizone.zones.storage.store import ZoneStore

        set_grant("customers", current_user(), True, ZoneStore(home))
    before = audit.open_audit_log(home).verify().records
    result = runner.invoke(app, [*path.split(), *argv])
    assert result.exit_code == 0, result.stderr
    new = list(audit.open_audit_log(home).records())[before:]
    assert [(r["action"], r["zone"]) for r in new] == [(a, zone) for a in action.split("|")]
