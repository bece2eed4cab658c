"""Training zones: on-disk store, encryption, keys, audit log, sandbox, sources."""
