"""The service's FastAPI application: the bearer-token check, the /v1 routes, /healthz and
/metrics, and error bodies that never echo the request."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from piizone.scrubbers.exceptions import ScrubberError
from piizone.scrubbers.reports import tool_version
from piizone.zones.serving.guard import Guard
from piizone.zones.serving.metrics import ServiceMetrics
from piizone.zones.serving.models import (
    ErrorBody,
    Health,
    ScanRequest,
    ScanResponse,
    ScrubRequest,
    ScrubResponse,
)

MAX_BODY_BYTES = 1024 * 1024
MAX_RECORDS = 1000
MAX_DEPTH = 32  # nesting of JSON values inside a record


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

    _add_error_handlers(app)
    _add_redaction_routes(app, scrubber, metrics, authorized, errors, max_records)
    _add_status_routes(app, scrubber, metrics, authorized, errors)
    return Guard(app, metrics, max_body_bytes)


def _add_error_handlers(app: FastAPI) -> None:
    """Error bodies are one line, and never the request (FastAPI's default echoes it)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc.errors())}, status_code=422)

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


def _add_redaction_routes(
    app: FastAPI,
    scrubber: Any,
    metrics: ServiceMetrics,
    authorized: Callable[..., None],
    errors: dict[int | str, dict[str, Any]],
    max_records: int,
) -> None:
    """/v1/scrub and /v1/scan, behind the bearer token."""
    policy_sha = scrubber.policy_sha256

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


def _add_status_routes(
    app: FastAPI,
    scrubber: Any,
    metrics: ServiceMetrics,
    authorized: Callable[..., None],
    errors: dict[int | str, dict[str, Any]],
) -> None:
    """/v1/policy and /metrics (behind the token) and /healthz (open)."""
    policy_sha = scrubber.policy_sha256

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


def _validation_message(errors: Sequence[dict[str, Any]]) -> str:
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
