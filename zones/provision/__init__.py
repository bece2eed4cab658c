"""Provisioning: read sources (files, SQL databases), scan and redact them under a policy, and
publish the encrypted zone. Depends on leakcheck, audit, storage and the base modules."""
