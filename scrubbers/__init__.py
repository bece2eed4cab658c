"""Detection and redaction of personal information: engine, recognizers, policy, reports."""
