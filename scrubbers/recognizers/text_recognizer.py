"""Base for piizone's recognizers that read only the text, never spaCy's artifacts."""

from __future__ import annotations

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult


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

    def result(
        self, start: int, end: int, score: float, reason: str, entity: str | None = None
    ) -> RecognizerResult:
        """A finding of this recognizer, named and explained the way Presidio reports them."""
        return RecognizerResult(
            entity_type=entity or self.ENTITY,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation=reason
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
