"""Columns of company names are not columns of people.

NER reads "Castro, Andrews and Sanchez" or "Smith and Sons" as persons, so a `merchant` column
would be redacted as PERSON and lose what a model learns from it. A column is taken for company
names by a vote over its sampled values: the share whose last words are a legal-form suffix
("LLC", "GmbH", "and Sons", "S.A.", ...; every locale's list from Faker's company providers, a
maintained data package, not a list of our own), counted more leniently when the header names an
organisation (merchant, vendor, employer, ...). Such a column is left as it is: a company name is
not personal data, and a policy column rule can still redact it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

# Header words that say a column names organisations; with them, fewer suffixed values suffice.
ORG_HEADER = re.compile(
    r"merchant|vendor|supplier|company|companies|employer|organi[sz]ation|business|brand|"
    r"payee|retailer|store|shop|bank|insurer|carrier|firm|corp",
    re.I,
)
ORG_SHARE = 0.6  # values with a legal-form suffix, header silent
HINTED_ORG_SHARE = 0.25  # ... when the header names organisations
# Faker's company formats join surnames with hyphens and "and" (Pittman-Phillips, "Castro,
# Andrews and Sanchez"); with an organisation header those shapes count as company names too.
_JOINED_NAMES = re.compile(
    r"^[A-Z][\w'.]+(?:-[A-Z][\w'.]+|(?:, [A-Z][\w'.]+)* (?:and|&) [A-Z][\w'.]+)$"
)


@cache
def company_suffixes() -> frozenset[str]:
    import faker.providers.company as company

    found: set[str] = set()
    for module in pkgutil.iter_modules(company.__path__):
        provider = importlib.import_module(f"{company.__name__}.{module.name}").Provider
        found.update(s.strip() for s in getattr(provider, "company_suffixes", ()) or ())
    # A one-letter "suffix" would match initials ("Jane D").
    return frozenset(s for s in found if len(s) >= 2)


def has_company_suffix(value: str) -> bool:
    words = value.strip().split()
    # Suffixes have up to five words ("GmbH & Co. KG", "Sp. z o.o. Sp.k."); the name comes first.
    return any(
        " ".join(words[-n:]) in company_suffixes() for n in range(1, min(5, len(words) - 1) + 1)
    )


def is_organization_column(header: str, sample: list[str]) -> bool:
    if not sample:
        return False
    suffixed = sum(1 for v in sample if has_company_suffix(v)) / len(sample)
    if suffixed >= ORG_SHARE:
        return True
    if not ORG_HEADER.search(header):
        return False
    shaped = sum(1 for v in sample if has_company_suffix(v) or _JOINED_NAMES.match(v.strip()))
    return suffixed >= HINTED_ORG_SHARE and shaped / len(sample) >= ORG_SHARE
