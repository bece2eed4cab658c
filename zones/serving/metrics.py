"""The service's metrics: request counts, a latency histogram and entities redacted, in memory
shared by the forked workers, rendered as Prometheus text."""

from __future__ import annotations

import math
import multiprocessing
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ENDPOINTS = ("/v1/scrub", "/v1/scan", "/v1/policy", "/healthz", "/metrics", "/openapi.json")
STATUS_CODES = (200, 400, 401, 404, 405, 413, 415, 422, 500)


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
