"""The scan report as SARIF 2.1.0, for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One rule per entity type found, one result per sampled finding (at most MAX_SAMPLES_PER_ENTITY
per file and type, where the report has a line or row), located by line. Messages name the
entity type, column and count, never a value or its context; input errors are tool
notifications, and make the run's `executionSuccessful` false.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from piizone.scrubbers.entities import Risk, entity_risk
from piizone.scrubbers.reports import Report, tool_version

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Risk.HIGH: "error", Risk.MEDIUM: "warning", Risk.LOW: "note", Risk.NONE: "none"}


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def _start_line(source: dict[str, Any], sample: dict[str, Any]) -> int:
    if "line" in sample:
        return int(sample["line"])
    row = int(sample.get("row") or 1)
    # CSV/TSV: row 1 is the line after the header; other tables have no lines, the row stands in.
    return row + 1 if source["format"] in ("csv", "tsv") else row


def _results(d: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for s in d["sources"]:
        for x in s["samples"]:
            where = f" in column {x['column']}" if x.get("column") else ""
            n = s["entities"].get(x["entity"], 0)
            results.append(
                {
                    "ruleId": x["entity"],
                    "level": _LEVELS[entity_risk(x["entity"])],
                    "message": {
                        "text": f"{x['entity']}{where} ({n} in this file; values not shown)"
                    },
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": _uri(s["path"])},
                                "region": {"startLine": _start_line(s, x)},
                            }
                        }
                    ],
                    "properties": {k: x[k] for k in ("row", "column") if k in x},
                }
            )
    return results


def render_sarif(report: Report) -> str:
    d = report.to_dict()
    entities = sorted({e for s in d["sources"] for e in s["entities"]})
    rules = [
        {
            "id": e,
            "name": e.title().replace("_", ""),
            "shortDescription": {"text": f"Personal data: {e}"},
            "defaultConfiguration": {"level": _LEVELS[entity_risk(e)]},
            "properties": {"risk": entity_risk(e).label},
        }
        for e in entities
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{x['path']}: {x['error']}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(x["path"])}}}],
        }
        for x in d["errors"]
    ]
    run = {
        "tool": {
            "driver": {
                "name": "piizone",
                "version": tool_version(),
                "rules": rules,
            }
        },
        "invocations": [
            {
                "executionSuccessful": not d["errors"],
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": _results(d),
        "properties": {"risk": d["risk"], "policy": d["policy"]["sha256"]},
    }
    sarif = {"version": SARIF_VERSION, "$schema": SARIF_SCHEMA, "runs": [run]}
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
