"""Labeled sentences from presidio-evaluator's generator and Microsoft's templates.

`PresidioSentenceFaker` (presidio-evaluator 0.3.x) fills the ~200 templates of its packaged
`raw_data/templates.txt` from the packaged FakeNameGenerator.com records and its Faker providers,
and returns the sentence with one span per template slot. Here:

- nothing is downloaded: the one provider that queries WikiData at start-up (hospitals, used by
  no template) is left out, and the Hugging Face / transformers offline switches are set;
- the templates' literal "\\n" and "\\," are turned into a newline and a comma (they are
  escapes in the source file, not text);
- the generator's own lower-casing is broken in 0.3.2 (it lower-cases a copy the sentence never
  uses), so the 5% lower-cased sentences it intends are made here instead;
- slot names are mapped to piizone's entity types (below), and address parts that touch each
  other ("083" + "254 Damvergi Street" + "Suite 026") are merged into one STREET_ADDRESS.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re

from benchmarks.quality.score import Sample, Span

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SEED = 1729
LOWER_CASE_RATIO = 0.05

# Template slot (Faker provider name) -> piizone gold type. `None` marks address parts, resolved
# after merging neighbours; "DOB?" marks date_of_birth, which is a DATE_OF_BIRTH only where the
# template says so ("born", "birth") and a plain date otherwise ("It's like that since ...").
SLOT_TYPES: dict[str, str | None] = {
    "person": "PERSON",
    "name": "PERSON",
    "name_female": "PERSON",
    "name_male": "PERSON",
    "first_name": "PERSON",
    "first_name_male": "PERSON",
    "first_name_female": "PERSON",
    "first_name_nonbinary": "PERSON",
    "last_name": "PERSON",
    "last_name_male": "PERSON",
    "last_name_female": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone_number": "PHONE_NUMBER",
    "credit_card_number": "CREDIT_CARD",
    "credit_card": "CREDIT_CARD",
    "ssn": "US_SSN",
    "iban": "IBAN_CODE",
    "ip_address": "IP_ADDRESS",
    "us_driver_license": "US_DRIVER_LICENSE",
    "address": None,
    "street_name": None,
    "building_number": None,
    "secondary_address": None,
    "date_of_birth": "DOB?",
    "birthday": "DOB?",
    "city": "LOCATION",
    "country": "LOCATION",
    "state": "LOCATION",
    "state_abbr": "LOCATION",
    "postcode": "ZIP_CODE",
    "zipcode": "ZIP_CODE",
    "organization": "ORGANIZATION",
    "date_time": "DATE_TIME",
    "day_of_week": "DATE_TIME",
    "year": "DATE_TIME",
    "prefix": "TITLE",
    "prefix_male": "TITLE",
    "prefix_female": "TITLE",
    "job": "TITLE",
    "nationality": "NRP",
    "nation_woman": "NRP",
    "nation_man": "NRP",
    "nation_plural": "NRP",
    "age": "AGE",
    "url": "URL",
}
# Gaps allowed between address parts that belong to one address (the templates' layouts).
_ADDRESS_GAP = re.compile(r"[\s,>?]*")
_BIRTH_WORDS = re.compile(r"\b(?:born|birth|birthday|dob)\b", re.IGNORECASE)


def _templates() -> list[str]:
    from presidio_evaluator.data_generator import presidio_templates_file_path

    lines = presidio_templates_file_path.read_text(encoding="utf-8").splitlines()
    return [line.strip().replace("\\n", "\n").replace("\\,", ",") for line in lines if line.strip()]


def _resolve(text: str, raw: list[tuple[int, int, str]], template: str) -> list[Span]:
    spans: list[Span] = []
    address: list[tuple[int, int, str]] = []

    def flush_address() -> None:
        if not address:
            return
        start, end = address[0][0], address[-1][1]
        value = text[start:end]
        # A street with a house number identifies a home; a street name alone ("lives on Elm
        # street") is a place, counted with the quasi identifiers.
        kind = "STREET_ADDRESS" if any(c.isdigit() for c in value) else "STREET_NAME"
        spans.append(Span(start, end, kind))
        address.clear()

    for start, end, slot in sorted(raw):
        kind = SLOT_TYPES.get(slot, slot.upper())
        if kind is None:
            if address and _ADDRESS_GAP.fullmatch(text[address[-1][1] : start]):
                address.append((start, end, slot))
                continue
            flush_address()
            address.append((start, end, slot))
            continue
        flush_address()
        if kind == "DOB?":
            kind = "DATE_OF_BIRTH" if _BIRTH_WORDS.search(template) else "DATE_TIME"
        spans.append(Span(start, end, kind))
    flush_address()
    return spans


def _trim(text: str, spans: list[Span]) -> list[Span]:
    """Gold spans without surrounding blanks (a few generated values end in a space)."""
    out = []
    for s in spans:
        value = text[s.start : s.end]
        lead = len(value) - len(value.lstrip())
        trail = len(value) - len(value.rstrip())
        if s.end - trail > s.start + lead:
            out.append(Span(s.start + lead, s.end - trail, s.entity_type))
    return out


def _fixed_clock_provider():
    """Faker's date_time() draws between 1970 and *now*: the same seed gives other seconds on
    every run. This one draws between fixed dates, so a seed gives the same sentences."""
    import datetime as dt

    from faker.providers import BaseProvider

    class FixedClockDateTime(BaseProvider):
        def date_time(self) -> dt.datetime:
            return self.generator.date_time_between(
                start_date=dt.datetime(1970, 1, 1), end_date=dt.datetime(2025, 1, 1)
            )

    return FixedClockDateTime


def _make_faker(seed: int, mapping: dict[str, str]):
    from presidio_evaluator.data_generator import (
        PresidioSentenceFaker,
        presidio_additional_entity_providers,
    )
    from presidio_evaluator.data_generator.faker_extensions import HospitalProvider

    faker = PresidioSentenceFaker(
        "en_US",
        lower_case_ratio=0.0,
        sentence_templates=_templates(),
        entity_providers=[
            p for p in presidio_additional_entity_providers if p is not HospitalProvider
        ],
        entity_type_mapping=mapping,
        random_seed=seed,
    )
    faker.add_provider(_fixed_clock_provider())
    faker.seed(seed)
    return faker


def generate(n: int = 1000, seed: int = SEED) -> list[Sample]:
    """`n` labeled sentences, the same for the same seed and package versions."""
    # The person records are drawn with `random` while the generator is built, before it seeds.
    random.seed(seed)
    identity = {slot: slot for slot in SLOT_TYPES}
    quiet = io.StringIO()  # the generator prints its settings and a progress bar
    with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
        faker = _make_faker(seed, identity)
        generated = faker.generate_new_fake_sentences(num_samples=n)
    rng = random.Random(seed)
    samples = []
    for index, result in enumerate(generated):
        text = result.full_text
        raw = [(s.start_position, s.end_position, s.entity_type) for s in result.spans]
        template = faker._sentence_templates[result.template_id]
        if rng.random() < LOWER_CASE_RATIO and len(text.lower()) == len(text):
            text = text.lower()
        sample = Sample(
            text, _trim(text, _resolve(text, raw, template)), "sentence", f"sentence-{index}"
        )
        sample.check()
        samples.append(sample)
    return samples


if __name__ == "__main__":
    from collections import Counter

    data = generate(1000)
    print(Counter(s.entity_type for d in data for s in d.spans).most_common())
    for d in data[:10]:
        print(repr(d.text), [(d.text[s.start : s.end], s.entity_type) for s in d.spans])
