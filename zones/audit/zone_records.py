"""Which zone an audit record is about: by zone id, not by name.

A record names its zone (`zone`), and a name can be reused: create `churn`, destroy it, create
`churn` again. Records are tied to one zone by the log itself: a zone's life runs from its
successful `zone.create` record to its successful `zone.destroy` record (both included). A zone
cannot be created while one of its name exists, a create that was not recorded is rolled back
and a destroy is always recorded (piizone.zones.journal), so the lives of one name never overlap.
This works for every record ever written, old ones included; the id of a life is the `zone_id`
its create record carries (since piizone recorded it) or, for the zone that exists now, its
manifest's. Records naming a zone outside any life (a refused create, a command on a name that
did not exist) belong to no zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from piizone.zones.audit.format import AuditRecord
from piizone.zones.audit.recorder import open_audit_log
from piizone.zones.exceptions import ZoneError
from piizone.zones.storage.store import ZoneStore


@dataclass
class ZoneLife:
    """One zone of a name, from its creation to its destruction (None: it still exists)."""

    id: str | None  # None: created before records carried the id, and destroyed since
    created: str
    destroyed: str | None = None
    records: list[AuditRecord] = field(default_factory=list)


@dataclass
class NameHistory:
    """Every record naming one zone name, split into the lives of the zones of that name."""

    name: str
    lives: list[ZoneLife]
    unattached: list[AuditRecord]  # records of the name that belong to no zone
    current: ZoneLife | None  # the life of the zone that exists now (None: none exists)


def split_lives(records: Iterable[AuditRecord]) -> tuple[list[ZoneLife], list[AuditRecord]]:
    """The lives in `records` (all naming one zone, in log order) and the records outside them."""
    lives: list[ZoneLife] = []
    unattached: list[AuditRecord] = []
    life: ZoneLife | None = None
    for rec in records:
        if rec.action == "zone.create" and rec.outcome == "success":
            zone_id = rec.details.get("zone_id")
            life = ZoneLife(id=zone_id if isinstance(zone_id, str) else None, created=rec.time)
            lives.append(life)
        if life is None:
            unattached.append(rec)
            continue
        life.records.append(rec)
        if rec.action == "zone.destroy" and rec.outcome == "success":
            life.destroyed = rec.time
            life = None
    return lives, unattached


def name_history(
    name: str, home: Path | None = None, records: Iterable[AuditRecord] | None = None
) -> NameHistory:
    """The records naming `name`, tied to the zones of that name (the current one by its id).

    `records`: the records naming `name` in log order, when the caller has read them already
    (None: read them from the home's log).
    """
    if records is None:
        records = open_audit_log(home).read(zone=name)
    lives, unattached = split_lives(records)
    current = None
    store = ZoneStore(home)
    try:
        exists = store.exists(name)
    except ZoneError:  # not a valid zone name: no zone of it can exist
        exists = False
    if exists and lives and lives[-1].destroyed is None:
        zone_id = store.manifest(name).id
        if lives[-1].id in (None, zone_id):  # else: a home restored over a newer log
            lives[-1].id = zone_id
            current = lives[-1]
    return NameHistory(name, lives, unattached, current)


def current_zone_records(
    name: str, home: Path | None = None, records: Iterable[AuditRecord] | None = None
) -> list[AuditRecord]:
    """The records of the zone `name` that exists now: none of an earlier zone of its name
    (`records`: as for `name_history`)."""
    current = name_history(name, home, records).current
    return current.records if current else []


def records_about(
    history: NameHistory, *, include_destroyed: bool
) -> Iterator[tuple[AuditRecord, str | None]]:
    """(record, zone id) in log order: the records naming the zone, without those of destroyed
    zones of its name unless `include_destroyed`."""
    tagged: list[tuple[AuditRecord, str | None]] = [(r, None) for r in history.unattached]
    for life in history.lives:
        if include_destroyed or life.destroyed is None:
            tagged += [(r, life.id) for r in life.records]
    yield from sorted(tagged, key=lambda pair: pair[0].seq)
