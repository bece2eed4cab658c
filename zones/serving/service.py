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
import json
import logging
import math
import multiprocessing
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from piizone.scrubbers.exceptions import ScrubberError
from piizone.scrubbers.reports import tool_version
from piizone.zones.audit import log as audit
from piizone.zones.config import SERVE_TOKEN_ENV, require_initialized, serve_token
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import piizone_home

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
MAX_BODY_BYTES = 1024 * 1024
MAX_RECORDS = 1000
MAX_DEPTH = 32  # nesting of JSON values inside a record
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ENDPOINTS = ("/v1/scrub", "/v1/scan", "/v1/policy", "/healthz", "/metrics", "/openapi.json")
STATUS_CODES = (200, 400, 401, 404, 405, 413, 415, 422, 500)

log = logging.getLogger("piizone.serve")


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


# --- metrics -------------------------------------------------------------------------------


class ServiceMetrics:
    """Counters and a latency histogram in shared memory, rendered as Prometheus text.

    Hand-written rather than prometheus_client: its multi-process mode needs a directory of
    mmap files and an environment variable set before import; forked workers sharing one
    small array of doubles need neither. Labels are fixed sets (endpoints, status codes, the
    policy's entity types), so a request can never create a new series: no content in metrics.
    """

    def __init__(self, entities: list[str]):
        self.entities = [*sorted(entities), "OTHER"]
        self._codes = [str(c) for c in STATUS_CODES] + ["other"]
        self._endpoints = [*ENDPOINTS, "other"]
        e, c, b = len(self._endpoints), len(self._codes), len(LATENCY_BUCKETS) + 1
        self._req = 0
        self._bucket = self._req + e * c
        self._sum = self._bucket + e * b
        self._ent = self._sum + e
        size = self._ent + len(self.entities)
        context = multiprocessing.get_context("fork")
        self._values = context.RawArray("d", size)
        self._lock = context.Lock()
        self._entity_index = {name: i for i, name in enumerate(self.entities)}

    def endpoint(self, path: str) -> int:
        try:
            return self._endpoints.index(path)
        except ValueError:
            return len(self._endpoints) - 1

    def observe(self, endpoint: int, status: int, seconds: float) -> None:
        code = str(status)
        ci = self._codes.index(code) if code in self._codes else len(self._codes) - 1
        bi = next(
            (i for i, le in enumerate(LATENCY_BUCKETS) if seconds <= le), len(LATENCY_BUCKETS)
        )
        with self._lock:
            self._values[self._req + endpoint * len(self._codes) + ci] += 1
            self._values[self._bucket + endpoint * (len(LATENCY_BUCKETS) + 1) + bi] += 1
            self._values[self._sum + endpoint] += seconds

    def count_entities(self, counts: dict[str, int]) -> None:
        with self._lock:
            for entity, n in counts.items():
                i = self._entity_index.get(entity, len(self.entities) - 1)
                self._values[self._ent + i] += n

    def _snapshot(self) -> list[float]:
        with self._lock:
            return list(self._values)

    def totals(self) -> dict[str, Any]:
        """Request counts by endpoint and status code, entities redacted: for the stop record."""
        v = self._snapshot()
        by_endpoint: dict[str, int] = {}
        by_code: dict[str, int] = {}
        for ei, endpoint in enumerate(self._endpoints):
            for ci, code in enumerate(self._codes):
                n = int(v[self._req + ei * len(self._codes) + ci])
                if n:
                    by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + n
                    by_code[code] = by_code.get(code, 0) + n
        entities = {
            name: int(v[self._ent + i]) for i, name in enumerate(self.entities) if v[self._ent + i]
        }
        return {
            "requests": sum(by_endpoint.values()),
            "by_endpoint": by_endpoint,
            "by_code": by_code,
            "entities": entities,
        }

    def render(self, info: dict[str, str]) -> str:
        v = self._snapshot()
        out = [
            "# HELP piizone_http_requests_total HTTP requests served, by endpoint and status.",
            "# TYPE piizone_http_requests_total counter",
        ]
        for ei, endpoint in enumerate(self._endpoints):
            for ci, code in enumerate(self._codes):
                n = v[self._req + ei * len(self._codes) + ci]
                if n:
                    out.append(
                        f'piizone_http_requests_total{{endpoint="{endpoint}",code="{code}"}} {n:g}'
                    )
        out += [
            "# HELP piizone_http_request_duration_seconds Time from request to response.",
            "# TYPE piizone_http_request_duration_seconds histogram",
        ]
        width = len(LATENCY_BUCKETS) + 1
        for ei, endpoint in enumerate(self._endpoints):
            buckets = v[self._bucket + ei * width : self._bucket + (ei + 1) * width]
            count = sum(buckets)
            if not count:
                continue
            cumulative = 0.0
            for le, n in zip([*LATENCY_BUCKETS, math.inf], buckets, strict=True):
                cumulative += n
                bound = "+Inf" if le == math.inf else f"{le:g}"
                out.append(
                    "piizone_http_request_duration_seconds_bucket"
                    f'{{endpoint="{endpoint}",le="{bound}"}} {cumulative:g}'
                )
            label = f'{{endpoint="{endpoint}"}}'
            out.append(f"piizone_http_request_duration_seconds_sum{label} {v[self._sum + ei]:.6f}")
            out.append(f"piizone_http_request_duration_seconds_count{label} {count:g}")
        out += [
            "# HELP piizone_entities_redacted_total Values replaced, by entity type.",
            "# TYPE piizone_entities_redacted_total counter",
        ]
        for i, name in enumerate(self.entities):
            out.append(f'piizone_entities_redacted_total{{entity="{name}"}} {v[self._ent + i]:g}')
        labels = ",".join(f'{k}="{val}"' for k, val in sorted(info.items()))
        out += [
            "# HELP piizone_policy_info The policy and model this service runs.",
            "# TYPE piizone_policy_info gauge",
            f"piizone_policy_info{{{labels}}} 1",
        ]
        return "\n".join(out) + "\n"


# --- the application -----------------------------------------------------------------------


class ScrubRequest(BaseModel):
    """Exactly one of `text` (a document) or `records` (JSON objects, redacted as one table)."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="Redacted as a .txt file holding it.")
    records: list[dict[str, Any]] | None = Field(
        None, description="Redacted as one .jsonl file holding them (one table)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> ScrubRequest:
        if (self.text is None) == (self.records is None):
            raise ValueError('send exactly one of "text" or "records"')
        return self


class ScrubResponse(BaseModel):
    text: str | None = None
    records: list[dict[str, Any]] | None = None
    policy: str = Field(description="sha256 of the policy that redacted this")
    entities: dict[str, int] = Field(description="values replaced, per entity type")


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class ScanFinding(BaseModel):
    entity_type: str
    start: int
    end: int
    score: float


class ScanResponse(BaseModel):
    findings: list[ScanFinding]
    entities: dict[str, int]
    policy: str


class Health(BaseModel):
    status: str
    policy: str


class ErrorBody(BaseModel):
    error: str


class _BodyTooLarge(Exception):
    """The streamed request body passed the limit (raised from `receive`)."""


class _Guard:
    """Outermost ASGI layer: body limit, metrics, and no content in logs on failures."""

    def __init__(self, app: Any, metrics: ServiceMetrics, max_body: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = self.metrics.endpoint(scope.get("path", ""))
        state = {"status": 500, "sent": False, "too_large": False}

        async def send_tracked(message: dict) -> None:
            if state["too_large"]:
                return  # the app's own answer to a cut-off body (a 400) gives way to our 413
            if message["type"] == "http.response.start":
                state["status"], state["sent"] = message["status"], True
            await send(message)

        received = 0

        async def receive_bounded() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    state["too_large"] = True
                    raise _BodyTooLarge
            return message

        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                await _send_json(send_tracked, 413, {"error": self._too_large()})
            else:
                await self.app(scope, receive_bounded, send_tracked)
        except Exception as e:  # noqa: BLE001 - logged by type only: messages can hold data
            if not state["too_large"]:
                log.error("request failed: %s", type(e).__name__)
            if not state["sent"] and not state["too_large"]:
                await _send_json(send_tracked, 500, {"error": "internal error"})
        finally:
            if state["too_large"] and not state["sent"]:
                state["too_large"] = False
                await _send_json(send_tracked, 413, {"error": self._too_large()})
            self.metrics.observe(endpoint, state["status"], time.perf_counter() - started)

    def _too_large(self) -> str:
        return f"request body larger than the limit of {self.max_body} bytes"


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Callable, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def create_app(
    scrubber: Any,
    token: str,
    metrics: ServiceMetrics | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_records: int = MAX_RECORDS,
) -> Any:
    """The ASGI application: FastAPI routes wrapped by the body-limit/metrics guard."""
    metrics = metrics or ServiceMetrics(scrubber.policy.entities)
    policy_sha = scrubber.policy_sha256
    expected = token.encode()
    bearer = HTTPBearer(auto_error=False, description="config.toml [serve] token")

    def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        # compare_digest: the time taken does not tell how much of a guess was right.
        if not credentials or not secrets.compare_digest(given, expected):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
        413: {"model": ErrorBody, "description": "body or batch over the limit"},
        422: {"model": ErrorBody, "description": "malformed JSON or an invalid request"},
    }
    app = FastAPI(
        title="piizone",
        version=tool_version(),
        summary="The training zone's redaction policy as a service.",
        docs_url=None,  # the Swagger/Redoc pages load scripts from a CDN: piizone stays offline
        redoc_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(list(exc.errors()))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(ScrubberError)
    async def refused(request: Request, exc: ScrubberError) -> JSONResponse:
        # Domain errors never carry raw values (their contract), so the message is safe.
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=422)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return JSONResponse({"error": "JSON nested too deeply"}, status_code=422)

    @app.post(
        "/v1/scrub",
        response_model=ScrubResponse,
        response_model_exclude_none=True,
        responses=errors,
        dependencies=[Depends(authorized)],
    )
    def scrub(body: ScrubRequest) -> JSONResponse:
        """Redact a text or a batch of records under the zone's policy."""
        if body.text is not None:
            text, counts = scrubber.scrub_text_counted(body.text)
            metrics.count_entities(counts)
            return JSONResponse({"text": text, "policy": policy_sha, "entities": counts})
        records = body.records or []
        if len(records) > max_records:
            raise HTTPException(
                413, f"{len(records)} records in one request; the limit is {max_records}"
            )
        _check_values(records)
        redacted, counts = scrubber.scrub_records_counted(records)
        metrics.count_entities(counts)
        return JSONResponse({"records": redacted, "policy": policy_sha, "entities": counts})

    @app.post(
        "/v1/scan",
        response_model=ScanResponse,
        responses=errors,
        dependencies=[Depends(authorized)],
    )
    def scan(body: ScanRequest) -> JSONResponse:
        """Where the policy finds PII in a text: types, offsets and scores, never the values."""
        findings = scrubber.scan_text(body.text)
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.entity_type] = counts.get(f.entity_type, 0) + 1
        return JSONResponse(
            {
                "findings": [
                    {"entity_type": f.entity_type, "start": f.start, "end": f.end, "score": f.score}
                    for f in findings
                ],
                "entities": counts,
                "policy": policy_sha,
            }
        )

    @app.get("/v1/policy", responses=errors, dependencies=[Depends(authorized)])
    def policy() -> dict[str, Any]:
        """The policy version, model and provenance (bundle signer, zone) this service runs."""
        return scrubber.describe()

    @app.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        """Liveness for load balancers; no token needed, nothing but the policy version."""
        return {"status": "ok", "policy": policy_sha}

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses=errors,
        dependencies=[Depends(authorized)],
    )
    def prometheus() -> PlainTextResponse:
        """Prometheus text: requests, latency histogram, entities redacted by type."""
        info = {
            "policy": policy_sha,
            "model": scrubber.model_name,
            "model_version": scrubber.model_version,
        }
        return PlainTextResponse(
            metrics.render(info), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return _Guard(app, metrics, max_body_bytes)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """One line a person can act on; never the input (FastAPI's default echoes it back)."""
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "invalid JSON")
        where = f" at character {loc[-1]}" if len(loc) > 1 else ""
        return f"malformed JSON body{where}: {reason}"
    if loc == ["body"] and first.get("type") in ("model_attributes_type", "dict_type"):
        return "the body must be a JSON object sent with Content-Type: application/json"
    where = ".".join(p for p in loc if p != "body") or "body"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def _check_values(records: list[dict[str, Any]]) -> None:
    """Reject what JSON's standard does not allow but Python's parser accepts (NaN, Infinity)
    and nesting deeper than MAX_DEPTH (the redactor walks nested values recursively)."""
    from piizone.scrubbers.exceptions import InputError

    def walk(value: Any, depth: int, where: str) -> None:
        if depth > MAX_DEPTH:
            raise InputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}: not a finite number (NaN and Infinity are not JSON)")
        if isinstance(value, dict):
            for v in value.values():
                walk(v, depth + 1, where)
        elif isinstance(value, list):
            for v in value:
                walk(v, depth + 1, where)

    for i, record in enumerate(records):
        walk(record, 0, f"records[{i}]")


# --- running -------------------------------------------------------------------------------


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
    outcome, stop = "success", {}
    try:
        if options.workers == 1:
            stop = _run_server(app, sock, options)
        else:
            stop = _run_workers(app, sock, options)
        if stop.get("failed_workers"):
            outcome = "failure"
    except BaseException as e:
        outcome, stop = "failure", {"error": type(e).__name__}
        raise
    finally:
        totals = metrics.totals()
        audit.record(
            "serve.stop",
            zone=zone,
            outcome=outcome,
            details={**totals, **stop, "seconds": round(time.monotonic() - started, 1)},
            home=home,
        )
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
