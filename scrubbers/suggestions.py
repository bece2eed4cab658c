"""The policy lines a scan report proposes, per flagged column, and the policy they make.

A scan knows what each table column holds; the policy decides what happens to it. For the
columns where a known policy line makes the zone better to train on, the report shows that
line (a one-line YAML mapping, pasteable into a policy) and why:

* an identifier column (emails, phones, cards, SSNs, names, ...) that would not be
  pseudonymized -> `identifier_columns: pseudonymize` (same value, same token: joins and
  counts survive);
* a date-of-birth column -> `entities: {DATE_OF_BIRTH: {operator: {type: generalize, to:
  year}}}` (the birth year, so age, survives);
* a column of company names -> `columns: {<name>: keep}` (pins the column-level vote that
  they are organizations, not people).

A line is proposed only where it changes what the scan's policy does and the policy made no
explicit choice there (an entity's own operator, a column rule): explicit settings win.
`suggested_policy` writes the scan's policy plus every proposed line as a new policy file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from piizone.scrubbers.policy import Operator, Policy, parse_policy
from piizone.scrubbers.reports import Report
from piizone.scrubbers.tables import KIND_IDENTIFIER, KIND_ORGANIZATION

_GENERALIZED = {"DATE_OF_BIRTH": {"type": "generalize", "to": "year"}}


@dataclass(frozen=True)
class Suggestion:
    """One proposed policy setting for one column: `section` names where it goes
    (identifier_columns | entities | columns), `key` the entity or column, `value` the rule."""

    path: str
    column: str
    section: str
    key: str | None
    value: Any
    why: str

    @property
    def line(self) -> str:
        """The setting as one line of YAML (a flow mapping): valid alone, pasteable."""
        if self.section == "identifier_columns":
            return f"{self.section}: {self.value}"
        value = {self.key: self.value}
        flow = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
        return f"{self.section}: {flow.strip()}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line}


def _operator_is(operator: Operator, wanted: dict[str, Any]) -> bool:
    return operator.type == wanted["type"] and (
        "to" not in wanted or (operator.to or "year") == wanted["to"]
    )


def suggest(report: Report, policy: Policy) -> list[Suggestion]:
    """The policy lines that would change each flagged table column of `report`."""
    out: list[Suggestion] = []
    for source in report.sources:
        for column in source.columns:
            if policy.column_rule(column.name) is not None:
                continue  # a column rule is an explicit choice
            found = _for_column(
                source.path, column.name, column.kind, column.classification, policy
            )
            if found is not None:
                out.append(found)
    return out


def _for_column(
    path: str, name: str, kind: str, entity: str | None, policy: Policy
) -> Suggestion | None:
    if kind == KIND_ORGANIZATION:
        return Suggestion(
            path,
            name,
            "columns",
            name,
            "keep",
            "company names, not people: pins the column-level vote (not PERSON)",
        )
    if kind != KIND_IDENTIFIER or entity is None:
        return None
    rule = policy.model.entities.get(entity)
    if rule is not None and rule.operator is not None:
        return None  # the policy names this entity's operator: its choice stands
    current = policy.identifier_operator(entity)
    wanted = _GENERALIZED.get(entity)
    if wanted is not None:
        if _operator_is(current, wanted):
            return None
        return Suggestion(
            path,
            name,
            "entities",
            entity,
            {"operator": wanted},
            f"keeps the birth year (age survives), not "
            f"{'a token' if current.type == 'pseudonymize' else 'a placeholder'}",
        )
    if current.type == "pseudonymize":
        return None
    return Suggestion(
        path,
        name,
        "identifier_columns",
        None,
        "pseudonymize",
        f"{entity} values become keyed tokens, the same in every file: joins and counts survive",
    )


def suggested_policy(suggestions: list[dict[str, Any]], policy_path: Path | None) -> str:
    """The scan's policy (its file's settings, or a new policy extending the default) with
    every suggested line (Report.suggestions) added, as YAML the policy loader accepts."""
    data: dict[str, Any]
    if policy_path is not None:
        loaded = yaml.safe_load(policy_path.read_text("utf-8"))  # loaded once already: valid
        data = dict(loaded) if isinstance(loaded, dict) else {}
    else:
        data = {"version": 1, "name": "suggested"}
    for s in suggestions:
        section_name, key, value = s["section"], s["key"], s["value"]
        if section_name == "identifier_columns":
            data["identifier_columns"] = value
            continue
        section = data.get(section_name)
        section = dict(section) if isinstance(section, dict) else {}
        current = section.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            section[key] = {**current, **value}
        else:
            section[key] = value
        data[section_name] = section
    header = [
        "# Suggested by `piizone scan --suggest-policy`"
        + (f" from {policy_path}" if policy_path else "")
        + ". It extends the default policy entity by entity;",
        "# check it with `piizone policy diff` before use. Lines added, and the columns behind:",
    ]
    for s in suggestions:
        where = _comment(f"{s['path']}: {s['column']}")
        header.append(f"#   {_comment(s['line'])}    <- {where} ({s['why']})")
    body = yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)
    text = "\n".join(header) + "\n" + body
    parse_policy(text, source="<suggested policy>")  # loadable, or a bug here: fail loudly
    return text


def _comment(text: str) -> str:
    """`text` safe inside a YAML comment: paths and column names come from data, and a line
    break in one would end the comment and inject policy settings."""
    return "".join(c if c.isprintable() else "?" for c in text)


class _NoAliases(yaml.SafeDumper):
    """A policy may not hold YAML anchors or aliases (policy.py refuses them)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
