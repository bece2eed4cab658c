"""Serving the zone's policy in production: signed policy bundles and the HTTP service."""
