"""`piizone serve`: the zone's policy as an HTTP scrubbing service (FastAPI on uvicorn).

Production runs the policy that built the training zone, unchanged: the service is a thin HTTP
skin over scrubbers.api.Scrubber, which runs the code `redact` and `zone create` run, so a text
or a batch of records comes back byte-identical to what the zone holds for it.

Security properties, each with the attack it prevents:
* A bearer token (config.toml's [serve] token, made by `init`, or $PIIZONE_SERVE_TOKEN) guards
  every /v1 route and /metrics, compared in constant time (no timing oracle). No token, no start.
* Bodies are bounded (Content-Length and streamed bytes) and batches are capped: one request
  cannot exhaust the worker's memory or hold the engine for minutes.
* Nothing of a request is ever logged or echoed in an error: validation errors drop the
  offending input (FastAPI's default puts it in the response), uvicorn's access log is off, and
  an unexpected exception is logged by type only.
* Loopback by default; any other address without TLS prints a warning (tokens and data would
  cross the network in clear).
* One audit record at start (policy, model, source, address) and one at stop (request counts);
  if the start cannot be audited, the service does not start.

Workers: the model is loaded once, then N worker processes are forked sharing the listening
socket and copy-on-write memory; the metrics live in shared memory, so /metrics from any worker
and the stop record count every worker's requests.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piizone.zones import audit
from piizone.zones.config import SERVE_TOKEN_ENV, require_initialized, serve_token
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import piizone_home
from piizone.zones.serving.app import MAX_BODY_BYTES, MAX_RECORDS, create_app
from piizone.zones.serving.metrics import ServiceMetrics

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


class ServeError(ZoneError):
    """The service cannot start: no token, a bad address, TLS files missing, a refused policy."""


@dataclass
class ServeOptions:
    """What `piizone serve` was asked for."""

    policy: Path | None = None
    bundle: Path | None = None
    zone: str | None = None
    trusted_key: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_records: int = MAX_RECORDS


@dataclass
class Listening:
    """Where the service listens and what it runs; handed to the caller before serving."""

    url: str
    policy_sha256: str
    model: str
    workers: int
    source: str
    warnings: list[str] = field(default_factory=list)


def load_scrubber(options: ServeOptions, home: Path) -> tuple[Any, dict[str, Any], str | None]:
    """The Scrubber to serve, audit details naming its source, and the zone it belongs to."""
    from piizone.zones.serving.bundle import (
        home_pseudonym_key,
        scrubber_from_bundle,
        scrubber_from_zone,
    )
    from piizone.zones.storage.store import ZoneStore

    chosen = [o for o in (options.policy, options.bundle, options.zone) if o is not None]
    if len(chosen) > 1:
        raise ServeError("give at most one of --policy, --bundle and --zone")
    if options.trusted_key is not None and options.bundle is None:
        raise ServeError("--trusted-key applies to --bundle only")
    if options.bundle is not None:
        scrubber = scrubber_from_bundle(options.bundle, trusted_key=options.trusted_key, home=home)
        bundle = scrubber.provenance["bundle"]
        details = {
            "source": "bundle",
            "bundle_signer": bundle["signer"],
            "bundle_trusted": bundle["trusted"],
            "zone_version": bundle["zone"].get("version"),
        }
        return scrubber, details, bundle["zone"].get("name")
    if options.zone is not None:
        scrubber = scrubber_from_zone(options.zone, ZoneStore(home))
        version = scrubber.provenance["zone"]["version"]
        return scrubber, {"source": "zone", "zone_version": version}, options.zone
    from piizone.scrubbers.api import Scrubber
    from piizone.scrubbers.policy import load_policy

    policy = load_policy(options.policy)
    scrubber = Scrubber(policy, home_pseudonym_key(home))
    return scrubber, {"source": "policy" if options.policy else "default policy"}, None


def serve(
    options: ServeOptions, on_listening: Callable[[Listening], None] | None = None
) -> dict[str, Any]:
    """Start the service and block until SIGINT/SIGTERM; returns the request totals."""
    home = piizone_home()
    require_initialized(home)
    token = serve_token(home)
    if not token:
        raise ServeError(
            "no bearer token for the service",
            hint=f"run `piizone init` (it writes one into config.toml) or set {SERVE_TOKEN_ENV}",
        )
    _check_options(options)
    audit.open_audit_log(home).check_writable()  # fail closed before seconds of model loading
    # Bound before the model loads: a taken port fails in a second, not after the load; the
    # kernel queues connections that arrive meanwhile.
    sock = _bind(options.host, options.port)
    try:
        scrubber, details, zone = load_scrubber(options, home)
        return _serve_on(sock, scrubber, token, options, details, zone, home, on_listening)
    finally:
        sock.close()


def _serve_on(
    sock: socket.socket,
    scrubber: Any,
    token: str,
    options: ServeOptions,
    details: dict[str, Any],
    zone: str | None,
    home: Path,
    on_listening: Callable[[Listening], None] | None,
) -> dict[str, Any]:
    host, port = sock.getsockname()[:2]
    tls = options.tls_cert is not None
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    warning = clear_text_warning(options.host, tls)
    warnings = [warning] if warning else []
    metrics = ServiceMetrics(scrubber.policy.entities)
    app = create_app(
        scrubber,
        token,
        metrics,
        max_body_bytes=options.max_body_bytes,
        max_records=options.max_records,
    )
    start_details = {
        **details,
        "policy_sha256": scrubber.policy_sha256,
        "model": scrubber.model_name,
        "model_version": scrubber.model_version,
        "model_sha256": scrubber.model.sha256,
        "address": f"{shown}:{port}",
        "tls": tls,
        "workers": options.workers,
    }
    audit.record("serve.start", zone=zone, details=start_details, home=home)
    if on_listening:
        on_listening(
            Listening(
                url=f"{scheme}://{shown}:{port}",
                policy_sha256=scrubber.policy_sha256,
                model=scrubber.model.describe(),
                workers=options.workers,
                source=details["source"],
                warnings=warnings,
            )
        )
    started = time.monotonic()
    with audit.audited("serve.stop", zone=zone, home=home) as stop:
        try:
            if options.workers == 1:
                stop.update(_run_server(app, sock, options))
            else:
                stop.update(_run_workers(app, sock, options))
            if stop.get("failed_workers"):
                stop.outcome = "failure"
        finally:
            totals = metrics.totals()
            stop.update({**totals, **stop, "seconds": round(time.monotonic() - started, 1)})
    return totals


def _uvicorn_server(app: Any, options: ServeOptions) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # paths and clients only, but a scrubbing service logs nothing per call
        lifespan="off",
        server_header=False,
        ssl_certfile=str(options.tls_cert) if options.tls_cert else None,
        ssl_keyfile=str(options.tls_key) if options.tls_key else None,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def _run_server(app: Any, sock: socket.socket, options: ServeOptions) -> dict[str, Any]:
    """Serve in this process until a signal. uvicorn re-raises the signal it caught after its
    graceful shutdown, through the handler it found installed: ours, which only notes it, so
    the stop record is still written (the default SIGTERM handler would end the process)."""
    caught: list[int] = []
    previous = {
        s: signal.signal(s, lambda sig, frame: caught.append(sig))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        _uvicorn_server(app, options).run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return {"signal": signal.Signals(caught[0]).name} if caught else {}


def _run_workers(app: Any, sock: socket.socket, options: ServeOptions) -> dict[str, Any]:
    """Fork `workers` processes serving the shared socket; stop them all on SIGINT/SIGTERM."""
    children: list[int] = []
    caught: list[int] = []

    def stop_all() -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def forward(sig: int, frame: Any) -> None:
        caught.append(sig)
        stop_all()

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    failed = 0
    try:
        for _ in range(options.workers):
            pid = os.fork()
            if pid == 0:  # the worker: serve, then leave without running the parent's cleanup
                code = 0
                try:
                    for s in previous:
                        signal.signal(s, signal.SIG_DFL)
                    _run_server(app, sock, options)
                except BaseException:  # noqa: BLE001 - a worker reports by exit code only
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        live = set(children)
        while live:
            pid, status = os.wait()
            live.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0 and not caught:
                failed += 1
                stop_all()  # one worker died: stop the service, do not limp along
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    stop: dict[str, Any] = {"signal": signal.Signals(caught[0]).name} if caught else {}
    if failed:
        stop["failed_workers"] = failed
    return stop


def _check_options(options: ServeOptions) -> None:
    if not 1 <= options.workers <= 64:
        raise ServeError(f"--workers must be between 1 and 64, not {options.workers}")
    if not 0 <= options.port <= 65535:
        raise ServeError(f"--port must be between 0 and 65535, not {options.port}")
    if (options.tls_cert is None) != (options.tls_key is None):
        raise ServeError("--tls-cert and --tls-key go together")
    for path in (options.tls_cert, options.tls_key):
        if path is not None and not Path(path).is_file():
            raise ServeError(f"{path}: no such TLS file")
    if options.tls_cert is not None:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                str(options.tls_cert), str(options.tls_key)
            )
        except (ssl.SSLError, OSError) as e:
            raise ServeError(
                f"cannot load the TLS certificate and key ({e.strerror or e})"
            ) from None
    if options.max_body_bytes < 1 or options.max_records < 1:
        raise ServeError("body and batch limits must be positive")


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ServeError(f"cannot listen on {host}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError as e:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {e.strerror}",
            hint="choose another --port" if e.errno == 98 else None,
        ) from None
    return sock


def clear_text_warning(host: str, tls: bool) -> str | None:
    """The warning for an address other machines can reach, served without TLS."""
    if tls or _is_loopback(host):
        return None
    return (
        f"listening on {host} without TLS: bearer tokens and data cross the network "
        "in clear text (use --tls-cert/--tls-key, or a TLS proxy on loopback)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
