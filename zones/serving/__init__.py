"""Serving the zone's policy in production: signed policy bundles (bundle) and the HTTP service:
service (options, loading the policy, binding, workers, start/stop audit records), app (the
FastAPI routes and the token check), models (request/response bodies), guard (the outermost ASGI
layer: body limit, metrics, no content in logs) and metrics (shared-memory Prometheus metrics)."""
