"""Two zone tables joined inside a piizone sandbox by a key column, counted (never printed).

    piizone sandbox run churn --work examples --out results -- \
        python join_tables.py customers.csv:KEY support_tickets.jsonl:KEY

Each argument names a table of the zone (csv or jsonl, found under /zone/data) and its key
column. Identifier columns hold keyed tokens in a zone (identifier_columns: pseudonymize): the
same value gives the same token in every table, so an inner join on them counts the rows the
join of the raw tables counts. Writes counts only to /zone/out/join.json (no value, no token).
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from pathlib import Path

DATA = Path(os.environ.get("PIIZONE_DATA", "/zone/data"))
OUT = Path(os.environ.get("PIIZONE_OUT", "/zone/out"))
TOKEN = re.compile(r"<[A-Z_]+_[0-9a-f]{8}>")


def keys(spec: str) -> list[str]:
    """The key column's values of the table `spec` names (FILE:COLUMN)."""
    name, column = spec.rsplit(":", 1)
    path = next(DATA.rglob(name))
    with open(path, newline="") as f:
        if path.suffix == ".jsonl":
            return [json.loads(line)[column] for line in f if line.strip()]
        return [row[column] for row in csv.DictReader(f)]


def main() -> None:
    left, right = keys(sys.argv[1]), keys(sys.argv[2])
    per_key: dict[str, int] = {}
    for k in left:
        per_key[k] = per_key.get(k, 0) + 1
    metrics = {
        "left_rows": sum(1 for _ in left),
        "right_rows": sum(1 for _ in right),
        "keys_pseudonymised": all(TOKEN.fullmatch(k) for k in left + right),
        "joined_rows": sum(per_key.get(k, 0) for k in right),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "join.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
