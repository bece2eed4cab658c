"""piizone: provision PII-redacted, encrypted training zones from production data.

The public Python API is `from piizone import Scrubber` (piizone/api.py) and the errors it
raises. Names are loaded on first use (PEP 562), so importing a sub-package such as
`piizone.zones.storage` or `piizone.fs` does not load the NLP stack.

The project's folders cli/, scrubbers/ and zones/ install as piizone.cli, piizone.scrubbers and
piizone.zones (pyproject.toml maps them); nothing installs as a bare `cli` or `zones`.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

# A source checkout run without installing it (a git worktree, `PYTHONPATH=checkout`) has cli/,
# scrubbers/ and zones/ beside this folder, not inside it: search the checkout too, so that
# `piizone.zones` is the checkout's own code and not whatever an editable install points at.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "zones" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))

try:
    __version__ = metadata.version("piizone")
except metadata.PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
    __version__ = "0+unknown"

_PUBLIC: dict[str, str] = {
    "Scrubber": "piizone.api",
    "BundleError": "piizone.zones.serving.bundle",
    "EngineError": "piizone.scrubbers.exceptions",
    "InputError": "piizone.scrubbers.exceptions",
    "PolicyError": "piizone.scrubbers.exceptions",
    "ScrubberError": "piizone.scrubbers.exceptions",
    "Finding": "piizone.scrubbers.findings",
    "ModelInfo": "piizone.scrubbers.models",
}

__all__ = [
    "BundleError",
    "EngineError",
    "Finding",
    "InputError",
    "ModelInfo",
    "PolicyError",
    "Scrubber",
    "ScrubberError",
    "__version__",
]

if TYPE_CHECKING:
    from piizone.api import Scrubber
    from piizone.scrubbers.exceptions import EngineError, InputError, PolicyError, ScrubberError
    from piizone.scrubbers.findings import Finding
    from piizone.scrubbers.models import ModelInfo
    from piizone.zones.serving.bundle import BundleError


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'piizone' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
