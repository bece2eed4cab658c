"""Recognizers by name. A policy enables them by name; an unknown name fails at load time."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer

from piizone.scrubbers.exceptions import EngineError

# piizone's own recognizers: name -> ".module:Class", relative to this package (imported lazily
# to keep start-up fast).
CUSTOM_RECOGNIZERS: dict[str, str] = {
    "StreetAddressRecognizer": ".us_street_address:StreetAddressRecognizer",
    "InternationalStreetAddressRecognizer": (
        ".intl_street_address:InternationalStreetAddressRecognizer"
    ),
    "PhoneInContextRecognizer": ".phone_in_context:PhoneInContextRecognizer",
    "PhoneNumberRecognizer": ".phone_number:PhoneNumberRecognizer",
    "DateOfBirthRecognizer": ".date_of_birth:DateOfBirthRecognizer",
    "AccountNumberRecognizer": ".account_number:AccountNumberRecognizer",
    "SpokenNumberRecognizer": ".spoken_numbers:SpokenNumberRecognizer",
    "SpokenEmailRecognizer": ".spoken_email:SpokenEmailRecognizer",
    "PersonNameRecognizer": ".person_name:PersonNameRecognizer",
    "TitledNameRecognizer": ".titled_name:TitledNameRecognizer",
    "WorldNameRecognizer": ".world_name:WorldNameRecognizer",
    "LuhnCardRecognizer": ".luhn_card:LuhnCardRecognizer",
    "SsnLastFourRecognizer": ".ssn_last_four:SsnLastFourRecognizer",
    "SpokenDateOfBirthRecognizer": (".spoken_date_of_birth:SpokenDateOfBirthRecognizer"),
    # Presidio's EmailRecognizer downloads the public suffix list: the name always means the
    # offline variant, so no policy can switch the network back on.
    "EmailRecognizer": ".offline_email:OfflineEmailRecognizer",
    "OfflineEmailRecognizer": ".offline_email:OfflineEmailRecognizer",
}

# Presidio recognizers that call remote services or download models: never loadable here.
_REFUSED = {
    "AzureAILanguageRecognizer",
    "AzureHealthDeidRecognizer",
    "AzureOpenAILangExtractRecognizer",
    "BasicLangExtractRecognizer",
    "LangExtractRecognizer",
    "GLiNERRecognizer",
    "HuggingFaceNerRecognizer",
    "TransformersRecognizer",
    "StanzaRecognizer",
    "MedicalNERRecognizer",
}


def _presidio_class(name: str) -> type[EntityRecognizer] | None:
    if name in _REFUSED:
        return None
    module = importlib.import_module("presidio_analyzer.predefined_recognizers")
    cls = getattr(module, name, None)
    if isinstance(cls, type) and issubclass(cls, EntityRecognizer):
        return cls
    return None


def known_recognizer_names() -> set[str]:
    """Every name a policy may list under `recognizers:`."""
    module = importlib.import_module("presidio_analyzer.predefined_recognizers")
    presidio = {n for n in dir(module) if n.endswith("Recognizer") and _presidio_class(n)}
    return presidio | set(CUSTOM_RECOGNIZERS)


def recognizer_factory(name: str) -> Callable[[str], EntityRecognizer]:
    """The constructor for a recognizer name, taking the language; EngineError if unknown."""
    if name in CUSTOM_RECOGNIZERS:
        module_name, _, class_name = CUSTOM_RECOGNIZERS[name].partition(":")
        cls = getattr(importlib.import_module(module_name, __name__), class_name)
        return lambda language: cls(supported_language=language)
    cls = _presidio_class(name)
    if cls is None:
        raise EngineError(
            f"unknown recognizer {name!r}",
            hint="list valid names with: piizone scan --list-recognizers",
        )
    return lambda language: cls(supported_language=language)


def regex_recognizer(
    name: str,
    entity: str,
    patterns: list[tuple[str, str, float]],
    context: list[str],
    language: str,
) -> PatternRecognizer:
    """A policy-defined regex recognizer: (pattern name, regex, score) triples plus context."""
    from piizone.scrubbers.recognizers.policy_regex import PolicyRegexRecognizer

    return PolicyRegexRecognizer(
        supported_entity=entity,
        name=name,
        patterns=[Pattern(p_name, regex, score) for p_name, regex, score in patterns],
        context=context or None,
        supported_language=language,
    )
