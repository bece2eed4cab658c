"""The tamper-evident audit log (hash chain, MAC, signed checkpoints), its export and the
record of processing (RoPA) built from it. Depends on storage and the base modules."""
