"""Sandbox sessions: a zone decrypted into memory, run under bubblewrap with no network and
nothing of the caller's environment, and its outputs released through the egress check.

Inside, one way (an import-linter contract): session > process > isolation > layout > publish,
zone_stream > errors. `session` is the entry point and re-exports the sandbox's API."""
