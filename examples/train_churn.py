"""A small churn model trained inside a piizone sandbox, on the zone's redacted customers table.

Pure Python (no ML libraries needed in the zone): logistic regression by gradient descent on
numeric and categorical features. It reads /zone/data, writes metrics to /zone/out, and never
prints a data value — only aggregate metrics leave the sandbox.

    piizone sandbox run churn --out results -- python examples/train_churn.py
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from pathlib import Path

DATA = Path(os.environ.get("PIIZONE_DATA", "/zone/data"))
OUT = Path(os.environ.get("PIIZONE_OUT", "/zone/out"))
PLANS = ("basic", "plus", "premium")


def features(row: dict[str, str]) -> list[float]:
    spend = float(row["monthly_spend"] or 0)
    tenure = float(row["tenure_months"] or 0)
    plan = [1.0 if row["plan"] == p else 0.0 for p in PLANS]
    return [1.0, spend / 100.0, tenure / 60.0, *plan]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def main() -> None:
    table = next(DATA.rglob("customers.csv"))
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(7).shuffle(rows)
    xs = [features(r) for r in rows]
    ys = [1.0 if r["churned"].lower() == "true" else 0.0 for r in rows]
    split = int(0.8 * len(rows))
    weights = [0.0] * len(xs[0])
    for _ in range(300):
        grad = [0.0] * len(weights)
        for x, y in zip(xs[:split], ys[:split], strict=True):
            err = sigmoid(sum(w * v for w, v in zip(weights, x, strict=True))) - y
            grad = [g + err * v for g, v in zip(grad, x, strict=True)]
        weights = [w - 0.5 * g / split for w, g in zip(weights, grad, strict=True)]
    test = list(zip(xs[split:], ys[split:], strict=True))
    correct = sum(
        (sigmoid(sum(w * v for w, v in zip(weights, x, strict=True))) >= 0.5) == (y == 1)
        for x, y in test
    )
    metrics = {
        "rows": len(rows),
        "train": split,
        "test": len(test),
        "accuracy": round(correct / max(len(test), 1), 4),
        "churn_rate": round(sum(ys) / max(len(ys), 1), 4),
        "weights": dict(
            zip(["bias", "spend", "tenure", *PLANS], [round(w, 4) for w in weights], strict=True)
        ),
        # What the model saw of identifiers: redaction tokens, not values.
        "sample_name_field": rows[0]["full_name"][:10],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"trained on {split} rows, test accuracy {metrics['accuracy']}")


if __name__ == "__main__":
    main()
