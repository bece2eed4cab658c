"""The command KEK provider: external wrap/unwrap programs (a KMS CLI, Vault transit, age, gpg)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

from piizone.zones.storage.keys.provider import (
    DEK_SIZE,
    KIND_COMMAND,
    WRAP_VERSION,
    KekProvider,
    KeyProviderError,
    check_dek,
    check_prefix,
)

DEFAULT_COMMAND_TIMEOUT = 30.0

# What the command provider hands to the external wrap program: a tag, the DEK and a digest of
# the context. The digest binds the context even when the external tool ignores it.
_COMMAND_PAYLOAD_MAGIC = b"PZD1"
_CONTEXT_DIGEST_SIZE = 16
# A key printed by a misbehaving tool in hex or base64 is one long token; redact such tokens
# before quoting the tool's stderr in an error.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")


class CommandKek(KekProvider):
    """External wrap/unwrap programs (a KMS CLI, Vault transit, age, gpg) via stdin/stdout.

    The wrap program reads a 52-byte payload (tag, DEK, context digest) and prints an opaque
    blob; the unwrap program reads that blob and prints the payload back. The context is also
    given to both as hex in $PIIZONE_KEK_CONTEXT, for tools that bind it themselves (KMS
    encryption context, Vault derived keys).
    """

    def __init__(
        self,
        wrap_cmd: list[str],
        unwrap_cmd: list[str],
        *,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        label: str | None = None,
    ):
        for name, cmd in (("wrap", wrap_cmd), ("unwrap", unwrap_cmd)):
            if not cmd or not all(isinstance(arg, str) for arg in cmd):
                raise KeyProviderError(f"command key provider: {name} must be a list of strings")
        self.wrap_cmd = list(wrap_cmd)
        self.unwrap_cmd = list(unwrap_cmd)
        self.timeout = timeout
        if label is None:
            label = hashlib.sha256(json.dumps([wrap_cmd, unwrap_cmd]).encode()).hexdigest()[:8]
        self.provider_id = f"command:{label}"

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        check_dek(dek)
        payload = _COMMAND_PAYLOAD_MAGIC + dek + _context_digest(context)
        out = self._run("wrap", self.wrap_cmd, payload, context)
        if not out:
            raise KeyProviderError(f"key command {_program(self.wrap_cmd)} printed nothing")
        return bytes([WRAP_VERSION]) + KIND_COMMAND + out

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        check_prefix(wrapped, KIND_COMMAND, self.provider_id)
        out = self._run("unwrap", self.unwrap_cmd, wrapped[2:], context)
        magic, digest = _COMMAND_PAYLOAD_MAGIC, _context_digest(context)
        if len(out) != len(magic) + DEK_SIZE + len(digest) or not out.startswith(magic):
            raise KeyProviderError(
                f"key command {_program(self.unwrap_cmd)} returned something that is not a "
                "wrapped piizone key"
            )
        if out[-len(digest) :] != digest:
            raise KeyProviderError("wrapped key belongs to another zone (context mismatch)")
        return out[len(magic) : len(magic) + DEK_SIZE]

    def _run(self, operation: str, cmd: list[str], stdin: bytes, context: bytes) -> bytes:
        env = dict(os.environ, PIIZONE_KEK_OPERATION=operation, PIIZONE_KEK_CONTEXT=context.hex())
        program = _program(cmd)
        try:
            # A new session so a timeout can kill the whole group: a shell wrapper's children
            # would otherwise keep the pipes open and hang us past the timeout.
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            raise KeyProviderError(
                f"cannot run key {operation} command {program}: {e.strerror}",
                hint="check the command key provider in the piizone config",
            ) from None
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise KeyProviderError(
                f"key {operation} command {program} timed out after {self.timeout:g}s"
            ) from None
        if proc.returncode != 0:
            raise KeyProviderError(
                f"key {operation} command {program} failed with exit status {proc.returncode}",
                hint=_safe_last_line(err),
            )
        return out


def _program(cmd: list[str]) -> str:
    # Only the program name: arguments may carry tokens or key names.
    return Path(cmd[0]).name


def _safe_last_line(stderr: bytes) -> str | None:
    """The tool's last stderr line, with anything that could be an encoded key redacted."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        return None
    line = "".join(ch for ch in lines[-1] if ch.isprintable())
    return _LONG_TOKEN.sub("[redacted]", line)[:200] or None


def _context_digest(context: bytes) -> bytes:
    return hashlib.sha256(b"piizone-kek-context-v1\0" + context).digest()[:_CONTEXT_DIGEST_SIZE]
