"""Leak checks: fingerprints of a zone's values, planted canaries, decoded views, and the egress
scan that decides what may leave a sandbox. Depends on audit, storage and the base modules.

Inside, one way (an import-linter contract): egress, streams, canary_check > matching, release >
canaries, output_tree, output_formats, decoded_views > fingerprints."""
