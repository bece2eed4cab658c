"""Detection and redaction of personal information: engine, recognizers, policy, reports.

Owns everything that reads text for PII and nothing about zones (it never imports
piizone.zones): the engines (engines.make_engine; engine, fan_out, parallel, dask_engine,
fast_nlp/), the recognizers (recognizers/), known values, the policy and its operators, file
formats, scanning (scan) and redaction (redact, redact_columns, redact_formats).
"""

import os

# Presidio imports transformers when it is installed (the benchmark extra brings it), and
# transformers then warns on stderr that PyTorch is missing. piizone never uses it. Set before
# any module of this package imports Presidio.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
