"""Card numbers Presidio's CreditCardRecognizer pattern cannot see: 2-series Mastercard,
15-digit JCB (2131/1800), 19-digit Visa, UnionPay and 12-19 digit Maestro.

Presidio's regex only starts a card with 1, 3, 4, 5 or 6 and stops at 16 digits plus a 3-5 digit
tail; Mastercard has issued 2221-2720 since 2017 and Visa, UnionPay and Maestro issue up to 19
digits. Here any 13-19 digit number (one space or hyphen allowed between digit groups) whose prefix
is an issuer range of ISO/IEC 7812 and whose Luhn checksum holds is a card (12 digits:
Maestro prefixes only).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from stdnum import luhn

from piizone.scrubbers.recognizers.declared_pattern import DeclaredPatternRecognizer

# Issuer identification number prefixes (major networks). A prefix match plus Luhn leaves about
# 1 in 10 random digit runs of the right length that also start like a card.
_IIN = re.compile(
    r"^(?:4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|3(?:0[0-5]|[68])"
    r"|6(?:011|5|4[4-9]|2)|35(?:2[89]|[3-8]\d)|2131|1800|5[06-9]|6\d)"
)

_MAESTRO = re.compile(r"^(?:5[06-9]|6\d)")


class LuhnCardRecognizer(DeclaredPatternRecognizer):
    """A 13-19 digit number with an issuer prefix and a valid Luhn checksum."""

    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        Pattern("card_13_19_digits", r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])", 0.6),
    ]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "jcb", "unionpay"]

    def validate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"[ -]", "", pattern_text)
        # Separators only between groups of 3+ digits: "12 34 56 ..." is not how cards are written.
        groups = re.split(r"[ -]", pattern_text)
        if len(groups) > 1 and min(len(g) for g in groups) < 3:
            return False
        if len(digits) == 12:  # only Maestro issues 12-digit cards
            return bool(_MAESTRO.match(digits)) and luhn.is_valid(digits)
        return 13 <= len(digits) <= 19 and bool(_IIN.match(digits)) and luhn.is_valid(digits)
