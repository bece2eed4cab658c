"""Regenerate scrubbers/recognizers/street_types.yaml from a libpostal checkout.

    python scripts/make_street_types.py /path/to/libpostal [COMMIT] \
        > scrubbers/recognizers/street_types.yaml

COMMIT names the libpostal commit in the header when the path is not a git checkout (e.g. a
`git archive` export).

libpostal (github.com/openvenues/libpostal, MIT licence) keeps per-language address dictionaries
under resources/dictionaries/<lang>/, one entry a line, synonyms separated by "|" (canonical
form first). Three of them are read, for the languages below (Latin-script Europe and the
Americas; English street types are the US recognizer's business):

- street_types.txt: thoroughfare words written as their own word ("Via", "Calle", "utca");
- concatenated_suffixes_separable.txt, and the entries of concatenated_suffixes_inseparable.txt
  that are street types too: endings glued to the name ("Hauptstraße", "Koskikatu", "Semperweg");
- post_office.txt: post-office box words ("Postfach", "apartado", "casella postale").

One-letter abbreviations are dropped and two-letter ones need their dot ("ul."): they would
match initials. A street word that is also an English street type ("via": viaduct), one of
Faker's 971 common English words (en_US lorem list) or listed in ENGLISH_COLLISIONS goes to
`ambiguous_street_types`, which the recognizer accepts only capitalised and before the name
("Via Venezia 88", "Place Vendôme 12"); spaCy's English stop words are dropped unless they
are a language's canonical street word (Italian "via"). A suffix is
dropped when more than MAX_NAME_ENDINGS English words or census names (person_names.yaml) of
at least four more letters end with it ("-land": Cleveland, "-lia": Cordelia; "-tie", with
six, stays: it is Finland's "road").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

LANGUAGES = (
    "ca cs da de es et fi fr gl hr hu is it lb nb nl pl pt ro sk sl sv".split()  # noqa: SIM905
)
# Street words in the dictionaries above that are everyday English too.
ENGLISH_COLLISIONS = {
    "alto", "arco", "bad", "bay", "camp", "canal", "center", "centre", "circle", "close", "court",
    "cross", "end", "hall", "hill", "king", "lane", "line", "mall", "mark", "plan", "port",
    "post", "quai", "ring", "rise", "row", "side", "stand", "station", "step", "strand", "trail",
    "view", "walk", "way", "wall", "well",
}  # fmt: skip
MIN_SUFFIX = 3
MAX_NAME_ENDINGS = 6
NAMES = Path(__file__).resolve().parent.parent / "scrubbers" / "recognizers" / "person_names.yaml"


def english_words() -> set[str]:
    """Common English words and stop words, as piizone's own dependencies ship them."""
    from faker.providers.lorem.en_US import Provider as Lorem

    return set(Lorem.word_list) | set(STOP_WORDS) | ENGLISH_COLLISIONS


def census_names() -> set[str]:
    import yaml

    data = yaml.safe_load(NAMES.read_text(encoding="utf-8"))
    return set(data["first_names"].split()) | set(data["last_names"].split())


def entries(path: Path) -> list[list[str]]:
    """The synonym groups of one dictionary file (missing file: none)."""
    if not path.exists():
        return []
    groups = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            groups.append([w.strip().lower() for w in line.split("|") if w.strip()])
    return groups


def usable(word: str) -> str | None:
    """The word as the recognizer matches it: two-letter abbreviations need their dot ("ul.")."""
    bare = word.rstrip(".")
    if len(bare) < 2 or any(c.isdigit() for c in word) or "\\" in word or "/" in word:
        return None
    return bare + "." if len(bare) == 2 else word


def build(root: Path) -> dict[str, list[str]]:
    base = root / "resources" / "dictionaries"
    common = english_words()
    english = common | {w.rstrip(".") for g in entries(base / "en" / "street_types.txt") for w in g}
    endings = common | census_names()
    stop = set(STOP_WORDS)
    types: set[str] = set()
    ambiguous: set[str] = set()
    suffixes: set[str] = set()
    post: set[str] = set()
    for lang in LANGUAGES:
        d = base / lang
        groups = entries(d / "street_types.txt")
        street = [w for g in groups for w in g]
        canonical = {g[0] for g in groups}
        for word in filter(None, map(usable, street)):
            if word.rstrip(".") not in english:
                types.add(word)
            elif word not in stop or word in canonical:
                ambiguous.add(word)
        for g in entries(d / "concatenated_suffixes_separable.txt"):
            # Dotted abbreviations only from three letters ("str.": "Eichendorffstr. 41").
            suffixes.update(w for w in g if len(w.rstrip(".")) >= MIN_SUFFIX and "." not in w[:-1])
        for g in entries(d / "concatenated_suffixes_inseparable.txt"):
            if any(w in street for w in g):
                suffixes.update(w for w in g if len(w) >= MIN_SUFFIX and "." not in w)
        for g in entries(d / "post_office.txt"):
            # Short codes ("bp", "cp", "pl") are ordinary abbreviations elsewhere.
            post.update(w for w in g if len(w.replace(" ", "").replace(".", "")) >= 5)
    for g in entries(base / "en" / "post_office.txt"):
        post.update(w for w in g if "box" in w and len(w) >= 5)
    suffixes = {
        x
        for x in suffixes
        if sum(w.endswith(x) and len(w) >= len(x) + 4 for w in endings) <= MAX_NAME_ENDINGS
    }
    return {
        "street_types": sorted(types),
        "ambiguous_street_types": sorted(ambiguous - types),
        "street_suffixes": sorted(suffixes),
        "post_office": sorted(post),
    }


def render(data: dict[str, list[str]], commit: str) -> str:
    out = [
        "# Street-type vocabularies for InternationalStreetAddressRecognizer",
        "# (scrubbers/recognizers/intl_street_address.py).",
        "#",
        "# Derived from libpostal's address dictionaries (resources/dictionaries/<lang>/),",
        f"# github.com/openvenues/libpostal commit {commit}. libpostal is MIT-licensed:",
        "# Copyright (c) 2015 openvenues. Permission is hereby granted, free of charge, to any",
        "# person obtaining a copy of this software ... to deal in the Software without",
        "# restriction ... subject to the following conditions: The above copyright notice and",
        "# this permission notice shall be included in all copies or substantial portions of the",
        "# Software. (Full text: LICENSE in the libpostal repository.)",
        "#",
        f"# Languages: {' '.join(LANGUAGES)}.",
        "# Regenerate: python scripts/make_street_types.py /path/to/libpostal > this file",
    ]
    for key, words in data.items():
        out.append(f"{key}:")
        out.extend(f'  - "{w}"' for w in words)
    return "\n".join(out) + "\n"


def main() -> None:
    root = Path(sys.argv[1])
    if len(sys.argv) > 2:
        sys.stdout.write(render(build(root), sys.argv[2]))
        return
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    sys.stdout.write(render(build(root), commit))


if __name__ == "__main__":
    main()
