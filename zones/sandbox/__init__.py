"""Sandbox sessions: a zone decrypted into memory, run under bubblewrap with no network and
nothing of the caller's environment, and its outputs released through the egress check."""
