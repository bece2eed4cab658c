"""Lineage for retraining: the artifacts that left a zone and where they came from (exported as
OpenLineage run events), the drift between two versions of a zone, and the airlock where held
outputs wait for a second person's review."""
