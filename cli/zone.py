"""`piizone init`, `piizone zone …` and `piizone keys …`: provisioning and lifecycle of zones."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from piizone.cli.confirm import confirm_or_abort
from piizone.cli.engine_options import ENGINE, SCHEDULER, WORKERS, EngineKind
from piizone.cli.errors import handle_errors, report_error
from piizone.cli.output import (
    LIST_FORMAT,
    LIST_JSON,
    ListFormat,
    echo_csv,
    list_format,
    print_table,
    table_console,
)
from piizone.cli.progress import progress_bar, stderr_console
from piizone.cli.verbosity import notice
from piizone.zones import lifecycle
from piizone.zones.storage.manifest import LawfulBasis

app = typer.Typer(
    help=(
        "Provision, inspect and destroy training zones.\n\nExample:\n\n"
        "    piizone zone create churn --from sample_data --ttl 30d && piizone zone list"
    ),
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help=(
        "Key-encryption keys: status, rotation and retirement.\n\nExample:\n\n"
        "    piizone keys rotate --yes && piizone keys retire --yes"
    ),
    no_args_is_help=True,
)
console = table_console()


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _build_summary(result, verb: str) -> None:
    m = result.manifest
    rows = sum(f.rows or 0 for f in m.files)
    totals = (
        ", ".join(f"{e} {n}" for e, n in sorted(m.scan.totals.items(), key=lambda kv: -kv[1]))
        or "none"
    )
    console.print(
        f"[bold green]{verb}[/] zone [bold]{m.name}[/] version {m.version}: "
        f"{len(m.files)} files, {rows} rows, risk {m.scan.risk}"
    )
    console.print(f"  PII redacted under policy {m.policy.sha256[:12]}: {totals}")
    known = m.known_values
    if known and known.values:
        found = sum(n for f in m.files for n in f.known_values.values())
        extra = len(known.sources)
        console.print(
            f"  known values: {known.values} learned"
            + (f" (with {extra} --known-values source{'s' * (extra > 1)})" if extra else "")
            + f", {found} spans found as known values"
        )
    if result.reused:
        console.print(f"  reused unchanged: {', '.join(result.reused)}")
    for relpath, reason in result.skipped:
        console.print(f"  skipped {relpath}: {reason}", style="dim")
    console.print(f"  encrypted with {m.key.provider}; expires {m.expires}")


@handle_errors
def init(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Create $PIIZONE_HOME (default ~/.piizone): config, keys and the audit log. Idempotent.

    Existing keys are never overwritten; running it again only fills in what is missing.

    Example:

        PIIZONE_HOME=/srv/piizone piizone init
    """
    result = lifecycle.init_home()
    if json_out:
        _print_json({"home": str(result.home), "created": result.created, "kek": result.kek})
        return
    console.print(f"piizone home: {result.home} (key-encryption key {result.kek})")
    for path in result.created:
        console.print(f"  created {path}")
    if not result.created:
        console.print("  already initialised; nothing changed")


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Zone name: letters, digits, '.', '_', '-'."),
    sources: list[str] = typer.Option(
        ..., "--from", help="File, directory or database URL (?table= / ?query=). Repeatable."
    ),
    known_values: list[str] | None = typer.Option(
        None,
        "--known-values",
        help="A table (file, directory or database URL) whose identifier values are redacted "
        "wherever they appear in the zone; its data is not copied in. Repeatable.",
    ),
    policy: Path | None = typer.Option(None, "--policy", "-p", help="Policy YAML."),
    purpose: str = typer.Option("", "--purpose", help="Why the zone exists (for the ROPA)."),
    lawful_basis: LawfulBasis | None = typer.Option(
        None, "--lawful-basis", help="GDPR Art. 6(1) basis of the processing (for the ROPA)."
    ),
    ttl: str | None = typer.Option(None, "--ttl", help="Lifetime, e.g. 30d (config default)."),
    owner: str | None = typer.Option(None, "--owner", help="Owner (default: you)."),
    canaries: int = typer.Option(
        0,
        "--canaries",
        min=0,
        max=10_000,
        help="Plant N synthetic records (fake identities) to detect memorisation.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    workers: int | None = WORKERS,
    engine_kind: EngineKind = ENGINE,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Provision a zone: scan, redact, encrypt; built in staging and published atomically.

    --canaries N adds N fake records (data/_extra/members.jsonl) whose values, if a model
    trained on the zone ever writes them, show up in the egress check and `zone canary-check`.

    The identifier values of the zone's tables (names, e-mails, phones...) are redacted
    wherever else they appear, transcripts included; --known-values adds a table used only
    for that (`zone refresh` re-reads it).

    Example:

        piizone zone create churn --from sample_data --purpose "churn model" --ttl 30d

        piizone zone create crm --from "postgresql://app@db/prod?table=customers"

        piizone zone create churn --from sample_data --canaries 20

        piizone zone create churn --from sample_data --lawful-basis legitimate_interests

        piizone zone create calls --from transcripts/ --known-values crm/customers.csv
    """
    from piizone.zones.provision.build import (  # loads the NLP stack: not at import
        ZoneRequest,
        create_zone,
    )

    if policy is not None:  # the warning for switched-off detectors, before the long build
        from piizone.cli.policy import warn_disabled
        from piizone.scrubbers.policy import load_policy

        warn_disabled(load_policy(policy))
    request = ZoneRequest(
        name=name,
        sources=sources,
        policy_path=str(policy) if policy else None,
        purpose=purpose,
        lawful_basis=lawful_basis,
        ttl=ttl,
        owner=owner,
        canaries=canaries,
        engine={"workers": workers, "engine": engine_kind.value, "scheduler": scheduler},
        known_values=known_values or [],
    )
    with progress_bar() as progress:
        result = create_zone(request, progress=progress)
    if json_out:
        _print_json({k: v for k, v in result.manifest.dump().items() if k != "key"})
    else:
        _build_summary(result, "created")


@app.command("refresh")
@handle_errors
def refresh(
    name: str = typer.Argument(...),
    sources: list[str] | None = typer.Option(
        None, "--from", help="Override the recorded sources (e.g. to pass a database password)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    workers: int | None = WORKERS,
    engine_kind: EngineKind = ENGINE,
    scheduler: str | None = SCHEDULER,
    if_changed: bool = typer.Option(
        False, "--if-changed", help="Check `zone status` first; build nothing when fresh."
    ),
    force: bool = typer.Option(
        False, "--force", help="Make a new version even when no source changed."
    ),
    on_new_version: str | None = typer.Option(
        None,
        "--on-new-version",
        metavar="CMD",
        help="Run CMD (no shell) after a new version, with PIIZONE_ZONE, PIIZONE_ZONE_VERSION "
        "and PIIZONE_ZONE_ID set; its failure exits 1, the version stays.",
    ),
) -> None:
    """Re-read the sources into a new version; unchanged sources are reused, not re-scanned.

    Pseudonyms stay identical across versions (same key). The new manifest names its parent.
    When no source changed, no version is made and the exit status is 3 (--force makes one).

    Example:

        piizone zone refresh churn --if-changed --on-new-version "make train"
    """
    from piizone.zones.lineage.freshness import parse_hook, refresh_if_changed, run_hook

    hook = parse_hook(on_new_version) if on_new_version is not None else None
    with progress_bar() as progress:
        outcome = refresh_if_changed(
            name,
            force=force,
            precheck=if_changed,
            sources=sources or None,
            engine_options={
                "workers": workers,
                "engine": engine_kind.value,
                "scheduler": scheduler,
            },
            progress=progress,
        )
    if outcome.unchanged:
        notice(f"zone {name}: no source changed; no new version made")
        raise typer.Exit(3)
    result = outcome.result
    assert result is not None  # a refresh that changed something made a version
    if json_out:
        _print_json({k: v for k, v in result.manifest.dump().items() if k != "key"})
    else:
        _build_summary(result, "refreshed")
    if hook is not None:
        run_hook(hook, result.manifest)


ZONE_COLUMNS = (
    "name",
    "version",
    "created",
    "owner",
    "expires",
    "expired",
    "legal_hold",
    "size",
    "risk",
    "files",
    "purpose",
)


@app.command("list")
@handle_errors
def list_(fmt: ListFormat = LIST_FORMAT, json_out: bool = LIST_JSON) -> None:
    """List zones: version, created, owner, expiry, size and risk.

    Example:

        piizone zone list --format csv > zones.csv
    """
    zones = lifecycle.list_zones()
    fmt = list_format(fmt, json_out)
    if fmt is ListFormat.json:
        _print_json(zones)
    elif fmt is ListFormat.csv:
        echo_csv(ZONE_COLUMNS, ([z[c] for c in ZONE_COLUMNS] for z in zones))
    elif not zones:
        typer.echo("no zones (create one with `piizone zone create`)")
    else:
        print_table(
            ("name", "version", "created", "owner", "expires", "size", "risk", "hold"),
            (
                [z["name"], z["version"], z["created"], z["owner"]]
                + [z["expires"] + (" (expired)" if z["expired"] else "")]
                + [f"{z['size'] / 1e6:.1f} MB", z["risk"], "yes" if z["legal_hold"] else ""]
                for z in zones
            ),
        )


@app.command("show")
@handle_errors
def show(
    name: str = typer.Argument(...),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a zone's manifest: sources, policy, files, scan summary and lineage.

    Example:

        piizone zone show churn
    """
    data = lifecycle.show_zone(name)
    if json_out:
        _print_json(data)
        return
    console.print(
        f"[bold]{data['name']}[/] v{data['version']} (id {data['id']}), owner "
        f"{data['owner']}, created {data['created']}, expires {data['expires']}"
        f"{', LEGAL HOLD' if data['legal_hold'] else ''}"
    )
    if data.get("purpose"):
        console.print(f"purpose: {data['purpose']}")
    console.print(
        f"policy {data['policy']['sha256'][:12]} ({data['policy']['source']}), "
        f"key {data['key']['provider']}, risk {data['scan']['risk']}"
    )
    for s in data["sources"]:
        console.print(f"source {s['uri']}: {s['rows']} rows, sha256 {s['sha256'][:12]}")
    files = Table(title="Files", title_justify="left")
    for col in ("Path", "Rows", "Bytes", "PII redacted"):
        files.add_column(col)
    for f in data["files"]:
        files.add_row(
            f["path"],
            str(f.get("rows") or ""),
            str(f["bytes"]),
            ", ".join(f"{e} {n}" for e, n in (f.get("entities") or {}).items()) or "-",
        )
    console.print(files)
    console.print(
        "lineage: " + " -> ".join(f"v{v['version']} ({v['created']})" for v in data["lineage"])
    )
    if data.get("grants"):
        console.print(f"granted: {', '.join(data['grants'])}")


@app.command("verify")
@handle_errors
def verify(
    name: str = typer.Argument(...),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Decrypt every file and check it against the manifest; exit 1 naming each bad file.

    Example:

        piizone zone verify churn
    """
    report = lifecycle.verify_zone(name)
    if json_out:
        _print_json(
            {
                "name": report.name,
                "version": report.version,
                "ok": report.ok,
                "files": report.files,
                "bytes": report.bytes,
                "problems": report.problems,
            }
        )
    elif report.ok:
        console.print(
            f"zone {name} v{report.version}: {report.files} files, {report.bytes} bytes verified"
        )
    else:
        for p in report.problems:
            report_error(f"{p['path']}: {p['problem']}")  # one line each, never wrapped
    if not report.ok:
        raise typer.Exit(1)


@app.command("destroy")
@handle_errors
def destroy(
    name: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Crypto-shred a zone: its wrapped data keys first, then its data (all versions).

    Refused while the zone is under legal hold.

    Example:

        piizone zone destroy churn --yes
    """
    confirm_or_abort(
        f"destroy zone {name!r} and every version of it", yes, action="zone.destroy", zone=name
    )
    versions = lifecycle.destroy_zone(name)
    console.print(f"destroyed zone {name} ({versions} versions crypto-shredded)")


@app.command("hold")
@handle_errors
def hold(
    name: str = typer.Argument(...),
    on: bool = typer.Option(..., "--on/--off", help="Place or lift a legal hold."),
) -> None:
    """Place or lift a legal hold: a held zone cannot be destroyed, not even by gc.

    Example:

        piizone zone hold churn --on
    """
    lifecycle.set_hold(name, on)
    console.print(f"zone {name}: legal hold {'on' if on else 'off'}")


@app.command("grant")
@handle_errors
def grant(name: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    """Allow USER to open the zone in sandbox sessions (the owner always may).

    Example:

        piizone zone grant churn alice
    """
    users = lifecycle.set_grant(name, user, True)
    console.print(f"zone {name}: granted to {', '.join(users)}")


@app.command("revoke")
@handle_errors
def revoke(name: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    """Withdraw USER's access to the zone.

    Example:

        piizone zone revoke churn alice
    """
    users = lifecycle.set_grant(name, user, False)
    console.print(f"zone {name}: granted to {', '.join(users) or 'owner only'}")


@app.command("grants")
@handle_errors
def grants(
    name: str = typer.Argument(...),
    fmt: ListFormat = LIST_FORMAT,
    json_out: bool = LIST_JSON,
) -> None:
    """List who may open the zone in a sandbox: its owner, then each granted user.

    Example:

        piizone zone grants churn --format csv
    """
    data = lifecycle.show_zone(name)  # audited as zone.show: reading the manifest
    rows = [{"user": data["owner"], "access": "owner"}] + [
        {"user": user, "access": "granted"} for user in data["grants"] if user != data["owner"]
    ]
    fmt = list_format(fmt, json_out)
    if fmt is ListFormat.json:
        _print_json(rows)
    elif fmt is ListFormat.csv:
        echo_csv(("user", "access"), ([r["user"], r["access"]] for r in rows))
    else:
        print_table(("user", "access"), ([r["user"], r["access"]] for r in rows))


@app.command("canary-check")
@handle_errors
def canary_check(
    name: str = typer.Argument(..., help="Zone name."),
    file: Path = typer.Argument(..., help="File to check, e.g. a model's generated samples."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check FILE for the zone's canaries and original PII values; exit 1 if any is found.

    Looks for the canary records planted by `zone create --canaries N` (a model that writes
    one has memorised training records) and for keyed fingerprints of the original PII the
    sources held. The report names line and entity type with masked context, never the value.
    Every check is audited (zone.canary_check).

    Example:

        piizone zone canary-check churn generated_samples.txt
    """
    from piizone.zones.leakcheck.canary_check import canary_check as check

    report = check(name, file)
    if json_out:
        _print_json(report.to_dict())
    else:
        for f in report.findings:
            # markup=False: a masked context may hold "[...]" that rich would eat.
            stderr_console.print(
                f"{f.file}:{f.line}: {f.entity} ({f.reason}): {f.context}", markup=False
            )
        summary = ", ".join(f"{n} {r}" for r, n in sorted(report.reasons.items()))
        console.print(
            f"zone {name}: {file}: {report.lines} lines, "
            + (f"FOUND {summary}" if not report.clean else "clean")
        )
    if not report.clean:
        raise typer.Exit(1)


@app.command("gc")
@handle_errors
def gc(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go."),
    json_out: bool = typer.Option(False, "--json", help="Print what was removed as JSON."),
) -> None:
    """Destroy expired zones that are not on legal hold, and leftovers of crashed runs.

    --json prints {"dry_run", "destroyed", "would_destroy", "held", "others",
    "stale_staging", "shreds_finished"}: zone names, and counts of leftovers cleaned up.

    Example:

        piizone zone gc --dry-run --json
    """
    if not dry_run:
        confirm_or_abort("destroy every expired zone not on hold", yes, action="zone.gc")
    result = lifecycle.gc_zones(dry_run=dry_run)
    if json_out:
        _print_json(
            {
                "dry_run": dry_run,
                "destroyed": [] if dry_run else result["expired"],
                "would_destroy": result["expired"] if dry_run else [],
                "held": result["held"],
                "others": result["others"],
                "stale_staging": result["stale_staging"],
                "shreds_finished": result["shreds_finished"],
            }
        )
        return
    verb = "would destroy" if dry_run else "destroyed"
    console.print(f"{verb}: {', '.join(result['expired']) or 'nothing'}")
    if result["held"]:
        console.print(f"kept (legal hold): {', '.join(result['held'])}")
    if result["others"]:
        console.print(f"kept (not yours; their owner or root may): {', '.join(result['others'])}")
    leftovers = result["stale_staging"] + result["shreds_finished"]
    if leftovers:
        console.print(f"removed {leftovers} leftover(s) of interrupted runs")


@app.command("export-policy")
@handle_errors
def export_policy(
    name: str = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="Directory."),
) -> None:
    """Write the zone's signed policy bundle, to run the same policy in production.

    DIR gets policy.yaml (the zone's exact policy), bundle.json (zone id and version, policy
    sha256, the pseudonym key's id (never the key), model name/version/sha256, tool version),
    bundle.sig (Ed25519, key made by `piizone init`) and bundle-signing.pub. `piizone serve
    --bundle DIR` and `Scrubber.from_bundle(DIR)` verify it and refuse an edited bundle.

    Example:

        piizone zone export-policy churn -o deploy/ && piizone serve --bundle deploy/
    """
    # Imported here: the bundle module loads the policy and operator modules, which the other
    # zone commands never need.
    from piizone.zones.serving.bundle import export_bundle

    target = export_bundle(name, output)
    console.print(f"wrote {target}", soft_wrap=True, highlight=False)  # a path: never wrapped


@keys_app.command("status")
@handle_errors
def keys_status(fmt: ListFormat = LIST_FORMAT, json_out: bool = LIST_JSON) -> None:
    """Show the configured key-encryption key and which KEK wraps each zone's data key.

    The table and CSV list one zone per row (zone, provider); JSON also holds the configured
    KEK's settings.

    Example:

        piizone keys status --format csv
    """
    status = lifecycle.keys_status()
    fmt = list_format(fmt, json_out)
    if fmt is ListFormat.json:
        _print_json(status)
        return
    rows = [(z["name"], z["provider"]) for z in status["zones"]]
    if fmt is ListFormat.csv:
        echo_csv(("zone", "provider"), rows)
        return
    configured = status["configured"]
    shown = ", ".join(f"{k}={v}" for k, v in sorted(configured.items()) if isinstance(v, str))
    console.print(f"configured KEK: {shown}", highlight=False, soft_wrap=True)
    if rows:
        print_table(("zone", "provider"), rows)


@keys_app.command("rotate")
@handle_errors
def keys_rotate(yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Create a new keyfile KEK and re-wrap every zone's data key with it (no re-encryption).

    Example:

        piizone keys rotate --yes
    """
    confirm_or_abort(
        "re-wrap every zone's data key under a new key-encryption key", yes, action="key.rotate"
    )
    result = lifecycle.rotate_keys()
    console.print(f"new KEK {result['provider']}; {result['rewrapped']} zone versions re-wrapped")
