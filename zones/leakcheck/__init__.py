"""Leak checks: fingerprints of a zone's values, planted canaries, decoded views, and the egress
scan that decides what may leave a sandbox. Depends on audit, storage and the base modules."""
