"""Zone storage: the on-disk store (names, layout, publish, shred), the encrypted file format
(envelope encryption, streaming AES-GCM) and the key providers that wrap each zone's key.

Depends only on the base modules of `zones` (exceptions, home, config)."""
