"""Base for piizone's recognizers that read only the text, never spaCy's artifacts."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer


class TextRecognizer(EntityRecognizer):
    """A recognizer declared by class constants: ENTITY (or ENTITIES); its name is its class name.

    Reading only the text keeps these fast, testable without a model, and independent of how
    spaCy tokenises ASR text. Subclasses implement `analyze` and override `load` if they have
    something to prepare.
    """

    ENTITY: str = ""
    ENTITIES: tuple[str, ...] = ()

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=list(self.ENTITIES or (self.ENTITY,)),
            name=type(self).__name__,
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Nothing to load: word lists and regular expressions are class constants."""
