"""Support tickets joined to customers inside a piizone sandbox, by the pseudonymised email.

The zone's identifier columns hold keyed tokens: the same address gives the same token in
customers.csv and support_tickets.jsonl, so the join a model needs survives redaction. It
writes counts only to /zone/out (never a value, not even a token):

    piizone sandbox run churn --out results -- python examples/join_tickets.py
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

DATA = Path(os.environ.get("PIIZONE_DATA", "/zone/data"))
OUT = Path(os.environ.get("PIIZONE_OUT", "/zone/out"))


def main() -> None:
    with open(next(DATA.rglob("customers.csv")), newline="") as f:
        plan_by_email = {row["email"]: row["plan"] for row in csv.DictReader(f)}
    with open(next(DATA.rglob("support_tickets.jsonl"))) as f:
        tickets = [json.loads(line) for line in f if line.strip()]
    matched = [t for t in tickets if t["customer_email"] in plan_by_email]
    per_plan: dict[str, int] = {}
    for t in matched:
        plan = plan_by_email[t["customer_email"]]
        per_plan[plan] = per_plan.get(plan, 0) + 1
    metrics = {
        "customers": sum(1 for _ in plan_by_email),
        "pseudonymised_emails": sum(1 for e in plan_by_email if e.startswith("<EMAIL_ADDRESS_")),
        "tickets": sum(1 for _ in tickets),
        "joined_rows": sum(1 for _ in matched),
        "tickets_per_plan": dict(sorted(per_plan.items())),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "join.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
