"""Per-thread "current" objects for readers deep in a call stack (DecodeCounter, ReadMeter).

Hand-written over contextvars: the readers run in the thread that opened the scope, and a
ContextVar would need its token kept per `with` for the same nesting; this is the smaller code.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self


class ThreadScoped:
    """`with Sub() as x:` makes x the current Sub of this thread until the block ends (a nested
    one restores the one before); code below finds it with `Sub.current()`."""

    _local: ClassVar[threading.local]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._local = threading.local()  # one slot per subclass

    def __enter__(self) -> Self:
        self._previous = getattr(self._local, "current", None)
        self._local.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.current = self._previous

    @classmethod
    def current(cls) -> Self | None:
        return getattr(cls._local, "current", None)
