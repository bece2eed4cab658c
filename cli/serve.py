"""`piizone serve`: the zone's policy as a production scrubbing endpoint (HTTP, bearer token)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from piizone.cli.errors import handle_errors


@handle_errors
def serve(
    policy: Path | None = typer.Option(None, "--policy", "-p", help="Policy YAML."),
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Signed bundle from `zone export-policy` (verified first)."
    ),
    zone: str | None = typer.Option(None, "--zone", help="Serve this zone's current policy."),
    trusted_key: Path | None = typer.Option(
        None, "--trusted-key", help="PEM public key the bundle's signer must match."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8787, "--port", help="Port (0: any free port)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="TLS certificate (PEM)."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="TLS private key (PEM)."),
    max_body: int = typer.Option(1024 * 1024, "--max-body", help="Largest request body, bytes."),
    max_records: int = typer.Option(1000, "--max-records", help="Most records per request."),
) -> None:
    """Serve the policy over HTTP: POST /v1/scrub, /v1/scan; GET /v1/policy, /healthz, /metrics.

    Outputs are byte-identical to `piizone redact` and `zone create` for the same policy and
    pseudonym key. Every /v1 route and /metrics need `Authorization: Bearer TOKEN` (config.toml's
    [serve] token, made by `piizone init`, or $PIIZONE_SERVE_TOKEN). Loopback by default; the
    start and the stop (with request counts) are audited. Runs until SIGINT or SIGTERM.

    Example:

        piizone serve --bundle deploy/ --port 8787 --workers 2

        curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
            -d '{"text": "Call Jane Doe"}' http://127.0.0.1:8787/v1/scrub
    """
    from piizone.zones.serving.service import ServeOptions
    from piizone.zones.serving.service import (
        serve as run,  # FastAPI, uvicorn and the model: not at import
    )

    options = ServeOptions(
        policy=policy,
        bundle=bundle,
        zone=zone,
        trusted_key=trusted_key,
        host=host,
        port=port,
        workers=workers,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_body_bytes=max_body,
        max_records=max_records,
    )

    def listening(info) -> None:
        for warning in info.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        sys.stderr.write(
            f"piizone serve: listening on {info.url} ({info.source}, policy "
            f"{info.policy_sha256[:12]}, model {info.model}, {info.workers} worker"
            f"{'s' if info.workers != 1 else ''})\n"
        )
        sys.stderr.flush()

    totals = run(options, on_listening=listening)
    sys.stderr.write(f"piizone serve: stopped after {totals['requests']} requests\n")
