"""The engine is expensive to build (spaCy load): one per test module."""

from __future__ import annotations

import pytest

from piizone.scrubbers.engine import Engine
from piizone.scrubbers.policy import load_policy


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_policy())
