"""The entity vocabulary. Names are stored in reports, policies and manifests: frozen (STYLE 4)."""

from __future__ import annotations

from enum import IntEnum


class Risk(IntEnum):
    """How bad a leak of an entity is; a report's risk is the highest risk among its findings."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Risk:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(
                f"unknown risk level {text!r} (expected none|low|medium|high)"
            ) from None


# Direct identifiers that alone single out a person or open an account: high.
# Contact details and names: medium. Quasi-identifiers that need combining: low.
ENTITY_RISK: dict[str, Risk] = {
    "US_SSN": Risk.HIGH,
    "CREDIT_CARD": Risk.HIGH,
    "IBAN_CODE": Risk.HIGH,
    "US_BANK_NUMBER": Risk.HIGH,
    "US_PASSPORT": Risk.HIGH,
    "US_DRIVER_LICENSE": Risk.HIGH,
    "US_ITIN": Risk.HIGH,
    "MEDICAL_LICENSE": Risk.HIGH,
    "CRYPTO": Risk.HIGH,
    "PERSON": Risk.MEDIUM,
    "EMAIL_ADDRESS": Risk.MEDIUM,
    "PHONE_NUMBER": Risk.MEDIUM,
    "STREET_ADDRESS": Risk.MEDIUM,
    "DATE_OF_BIRTH": Risk.MEDIUM,
    "ACCOUNT_NUMBER": Risk.MEDIUM,
    "IP_ADDRESS": Risk.MEDIUM,
    "LOCATION": Risk.LOW,
    "DATE_TIME": Risk.LOW,
    "NRP": Risk.LOW,
    "URL": Risk.LOW,
    "ORGANIZATION": Risk.LOW,
}

KNOWN_ENTITIES = frozenset(ENTITY_RISK)


def entity_risk(entity_type: str) -> Risk:
    """Risk of an entity; custom entities from a policy count as medium."""
    return ENTITY_RISK.get(entity_type, Risk.MEDIUM)


# Entities whose identity is their digits: separators and spacing vary between writers.
DIGIT_ENTITIES = frozenset(
    {
        "US_SSN",
        "US_ITIN",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "US_BANK_NUMBER",
        "ACCOUNT_NUMBER",
        "MEDICAL_LICENSE",
        "UK_NHS",
    }
)
