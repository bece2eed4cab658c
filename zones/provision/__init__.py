"""Provisioning: read sources (files, SQL databases), scan and redact them under a policy, and
publish the encrypted zone. Depends on leakcheck, audit, storage and the base modules.

build (ZoneRequest, create/refresh, publish and its audit record) > staging (one version built in
a staging directory) > zonefile (one item scanned, redacted, encrypted) and known_values
(known-value redaction); sources/ (files, SQL) and metadata_names (masked/sealed names) below."""
