"""Intent journal: a change and its audit record are one recoverable step.

Publishing a zone version (a rename) and appending its audit record are two writes; a SIGKILL
or power cut between them would leave a zone nobody can account for. So before the change an
*intent* file is written (and fsynced) to $PIIZONE_HOME/journal/, carrying an id that the
audit record repeats in its details (`intent`); the file is removed once the record is written.
The next piizone command to start (`recover`) finds intents left by dead processes and settles
them:

- `zone.create` / `zone.refresh`: if the record was written, nothing is left to do. Otherwise
  the published version is rolled back (the command never reported success) and a `failure`
  record says so (`error: interrupted`, `recovered: rolled back`).
- `key.rotate`: re-wrapping is idempotent and the old KEK stays readable, so the rotation is
  completed (versions not yet under the new KEK are re-wrapped, the config points at it) and
  recorded (`recovered: completed`).

An intent whose process still runs is left alone: its zone lock (or the rotate lock) is held.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piizone.fs import flocked
from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, fsync_dir, keys_dir, write_private_file
from piizone.zones.storage.zone_keys import finish_rotation

if TYPE_CHECKING:
    from piizone.zones.storage.store import ZoneStore

INTERRUPTED = "interrupted before its audit record"

JOURNAL_DIR = "journal"
ROTATE_LOCK = ".rotate.lock"
# Test-only fault injection: a process SIGKILLs itself at the named point, so tests can crash
# it exactly between a change and its record. Unset in normal use; no other effect.
CRASH_ENV = "PIIZONE_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, as a power cut would, when PIIZONE_TEST_CRASH_AT names this point (tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def journal_dir(home: Path) -> Path:
    return home / JOURNAL_DIR


def begin(home: Path, action: str, **fields: Any) -> str:
    """Write an intent durably before the change; returns its id (put it in the record)."""
    intent_id = secrets.token_hex(8)
    intent = {"v": 1, "id": intent_id, "action": action, "pid": os.getpid(), **fields}
    directory = ensure_private_dir(journal_dir(home))
    write_private_file(directory / f"{intent_id}.json", json.dumps(intent).encode())
    return intent_id


def finish(home: Path, intent_id: str) -> None:
    """The change and its record are both done (or both undone): forget the intent."""
    path = journal_dir(home) / f"{intent_id}.json"
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)


@contextlib.contextmanager
def rotate_lock(home: Path) -> Iterator[bool]:
    """Held by `keys rotate` while it runs; yields False (not taken) if another process has it."""
    path = ensure_private_dir(keys_dir(home)) / ROTATE_LOCK
    with flocked(path, wait=False) as held:
        yield held


def pending(home: Path) -> list[dict[str, Any]]:
    directory = journal_dir(home)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            found.append(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            continue  # a torn intent: written before any change, so nothing to settle
    return found


def _recorded(home: Path, intent_id: str) -> bool:
    return any(rec.details.get("intent") == intent_id for rec in audit.open_audit_log(home).read())


def recover(home: Path) -> list[str]:
    """Settle the intents of dead processes; returns what was done, one line each."""
    done = []
    for intent in pending(home):
        if intent.get("action") in ("zone.create", "zone.refresh"):
            line = _recover_publish(home, intent)
        elif intent.get("action") == "key.rotate":
            line = _recover_rotate(home, intent)
        elif intent.get("action") == "zone.destroy":
            line = _recover_destroy(home, intent)
        elif intent.get("action") == "zone.prune":
            line = _recover_prune(home, intent)
        else:
            line = None
        if line:
            done.append(line)
    return done


# What a zone intent's recovery did: the record's outcome and details, and a line for the user.
Settled = tuple[str, dict[str, Any], str]


def _settle_zone_intent(
    home: Path, intent: dict[str, Any], settle: Callable[[ZoneStore, str], Settled]
) -> str | None:
    """The frame every zone intent's recovery shares: under the zone's lock, unless the record
    was written before the process died, `settle` finishes or undoes the change; its outcome is
    recorded under the intent's action (with the intent's id) and the intent forgotten."""
    from piizone.zones.storage.store import ZoneBusy, ZoneStore

    store = ZoneStore(home)
    name = intent["zone"]
    try:
        with store.lock(name):
            if _recorded(home, intent["id"]):
                finish(home, intent["id"])
                return None
            outcome, details, line = settle(store, name)
            audit.record(
                intent["action"],
                zone=name,
                outcome=outcome,
                details={**details, "intent": intent["id"]},
                home=home,
            )
            finish(home, intent["id"])
    except ZoneBusy:
        return None  # its process is still at work
    return line


def _recover_publish(home: Path, intent: dict[str, Any]) -> str | None:
    """A create or refresh killed between publishing and its record is rolled back."""
    version = intent["version"]

    def settle(store: ZoneStore, name: str) -> Settled:
        store.unpublish(name, version, intent.get("previous"))
        details = {"version": version, "error": "interrupted", "recovered": "rolled back"}
        return "failure", details, f"zone {name!r} v{version}: {INTERRUPTED}; rolled back"

    return _settle_zone_intent(home, intent, settle)


def _recover_destroy(home: Path, intent: dict[str, Any]) -> str | None:
    """A destroy killed mid-shred is completed; one killed before its rename aside never
    touched the zone (recorded as interrupted). Either way it gets its record."""

    def settle(store: ZoneStore, name: str) -> Settled:
        store.finish_shred(name, intent["id"])
        if store.exists(name) and store.manifest(name).id == intent["zone_id"]:
            undone = {"error": "interrupted", "recovered": "rolled back"}
            return "failure", undone, f"zone {name!r}: destroy {INTERRUPTED}; left as it was"
        details: dict[str, Any] = {
            "versions": intent.get("versions"),
            "method": "crypto-shred",
            "recovered": "completed",
        }
        return "success", details, f"zone {name!r}: destroy {INTERRUPTED}; shred completed"

    return _settle_zone_intent(home, intent, settle)


def _recover_prune(home: Path, intent: dict[str, Any]) -> str | None:
    """A prune killed mid-shred is completed (its versions were renamed aside, or are about
    to be shredded again by `finish_shred`); its record says which versions are gone."""

    def settle(store: ZoneStore, name: str) -> Settled:
        store.finish_shred(name, intent["id"])
        left = set(store.versions(name)) if store.exists(name) else set()
        gone = [v for v in intent.get("versions", []) if v not in left]
        details = {
            "pruned": gone,
            "method": "crypto-shred",
            "recovered": "completed" if gone else "rolled back",
        }
        line = f"zone {name!r}: prune {INTERRUPTED}; {len(gone)} version(s) shredded"
        return ("success" if gone else "failure"), details, line

    return _settle_zone_intent(home, intent, settle)


def _recover_rotate(home: Path, intent: dict[str, Any]) -> str | None:
    with rotate_lock(home) as taken:
        if not taken:
            return None
        if _recorded(home, intent["id"]):
            finish(home, intent["id"])
            return None
        rewrapped = finish_rotation(home, intent["provider"])
        audit.record(
            "key.rotate",
            details={
                "provider": intent["provider"],
                "versions": rewrapped,
                "by": intent.get("by"),
                "recovered": "completed",
                "intent": intent["id"],
            },
            home=home,
        )
        finish(home, intent["id"])
    return f"keys rotate to {intent['provider']}: {INTERRUPTED}; completed"


def recover_or_warn(home: Path) -> list[str]:
    """`recover` for the CLI's start: problems are reported, not fatal to the command run."""
    if not journal_dir(home).is_dir():
        return []
    try:
        return recover(home)
    except (ZoneError, OSError, KeyError, TypeError) as e:
        return [f"could not settle an interrupted change: {e}"]
