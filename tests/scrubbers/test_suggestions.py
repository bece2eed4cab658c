"""scrubbers/suggestions.py without an engine: which lines a column gets, and the policy text."""

from __future__ import annotations

from piizone.scrubbers.policy import parse_policy
from piizone.scrubbers.reports import ColumnReport, Report, SourceReport
from piizone.scrubbers.suggestions import suggest, suggested_policy

HOSTILE = "merchant\nidentifier_columns: keep\n#"  # a column name is data: it must stay a comment


def report(*columns: ColumnReport) -> Report:
    source = SourceReport(path="t.csv", kind="table", format="csv", columns=list(columns))
    return Report(policy_sha256="0" * 64, policy_source="test", sources=[source])


def test_lines_follow_what_the_policy_does_and_respect_explicit_choices() -> None:
    columns = (
        ColumnReport("email", "EMAIL_ADDRESS", "identifier"),
        ColumnReport("dob", "DATE_OF_BIRTH", "identifier"),
        ColumnReport("notes", None, "free_text", {"PERSON": 3}),
        ColumnReport("vendor", None, "organization"),
    )
    default = {s.column: s.line for s in suggest(report(*columns), parse_policy("version: 1\n"))}
    assert default == {
        "dob": "entities: {DATE_OF_BIRTH: {operator: {type: generalize, to: year}}}",
        "vendor": "columns: {vendor: keep}",
    }
    off = parse_policy(
        "version: 1\nidentifier_columns: false\n"
        "entities: {DATE_OF_BIRTH: {operator: date_shift}}\ncolumns: {vendor: scan}\n"
    )
    assert {s.column: s.line for s in suggest(report(*columns), off)} == {
        "email": "identifier_columns: pseudonymize"
    }


def test_the_written_policy_loads_and_a_column_name_cannot_inject_settings() -> None:
    found = suggest(
        report(
            ColumnReport(HOSTILE, None, "organization"),
            ColumnReport("dob", "DATE_OF_BIRTH", "identifier"),
        ),
        parse_policy("version: 1\n"),
    )
    text = suggested_policy([s.to_dict() for s in found], None)
    policy = parse_policy(text)
    assert policy.column_rule(HOSTILE) == "keep"
    assert policy.model.identifier_columns is not None  # not switched to keep by the name
    assert policy.model.identifier_columns.type == "pseudonymize"
    assert policy.operator_for("DATE_OF_BIRTH").type == "generalize"
    assert all(line.startswith("#") for line in text.split("version: 1")[0].splitlines())
