"""A stand-in for a KMS CLI, used by the command key provider tests.

    python fake_kms.py wrap|unwrap   < input > output

Its own 32-byte key is in the file named by $FAKE_KMS_KEY. Like a real KMS with an encryption
context, it binds $PIIZONE_KEK_CONTEXT as associated data. Failure modes for tests:
$FAKE_KMS_FAIL=N exits N with an error on stderr, $FAKE_KMS_SLEEP=S sleeps first (in a child
process, as a shell wrapper would), $FAKE_KMS_LEAK=1 prints its stdin as hex on stderr and fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main() -> int:
    operation = sys.argv[1]
    data = sys.stdin.buffer.read()
    if os.environ.get("FAKE_KMS_SLEEP"):
        subprocess.run(["sleep", os.environ["FAKE_KMS_SLEEP"]], check=False)
    if os.environ.get("FAKE_KMS_LEAK"):
        sys.stderr.write(f"fake-kms: bad request {data.hex()}\n")
        return 4
    if os.environ.get("FAKE_KMS_FAIL"):
        sys.stderr.write("fake-kms: AccessDeniedException: not authorized to use key alias/zones\n")
        return int(os.environ["FAKE_KMS_FAIL"])
    with open(os.environ["FAKE_KMS_KEY"], "rb") as f:
        aead = AESGCM(f.read())
    context = bytes.fromhex(os.environ.get("PIIZONE_KEK_CONTEXT", ""))
    if operation == "wrap":
        nonce = os.urandom(12)
        sys.stdout.buffer.write(nonce + aead.encrypt(nonce, data, context))
        return 0
    try:
        sys.stdout.buffer.write(aead.decrypt(data[:12], data[12:], context))
    except (InvalidTag, ValueError):
        sys.stderr.write("fake-kms: InvalidCiphertextException\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
