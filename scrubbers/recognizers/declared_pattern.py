"""Base for piizone's regular-expression recognizers: a Presidio PatternRecognizer whose entity,
patterns and context words are class constants."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer


class DeclaredPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer declared by ENTITY, PATTERNS and CONTEXT; its name is its class name.

    Presidio's context enhancer raises a match's score when one of the CONTEXT words (compared
    with spaCy lemmas) stands near it; subclasses add `validate_result`/`invalidate_result` or
    their own `analyze` where a regular expression alone says too much.
    """

    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT or None,
            supported_language=supported_language,
            name=type(self).__name__,
        )
