"""Detection and redaction of personal information: engine, recognizers, policy, reports."""

import os

# Presidio imports transformers when it is installed (the benchmark extra brings it), and
# transformers then warns on stderr that PyTorch is missing. piizone never uses it. Set before
# any module of this package imports Presidio.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
