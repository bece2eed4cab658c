"""Once a name is found in a document, find it everywhere in that document.

A news story names "Alexander Lebed" once and then says "Lebed" ten times; a nursing note has
"DR. KNIGHT" and later "KNIGHT AWARE"; a call has "frank e peretti" and later "peretti". The
detectors see each mention alone and miss many of the later ones (spaCy tags the bare surname
GPE or ORG, or nothing). Every word of a confident PERSON finding is a known name of that
document: its other mentions are names too, whatever the detectors thought of them. Seeds are
the Title-case words of such findings (a name in capitals or lower case is itself a guess),
and any word a title vouched for ("DR. KNIGHT").

Bounded: one pass over the document's words with a set lookup each. Mentions keep to the case
signal of their line: in a line with capitals, only a capitalised mention counts ("Knight" is
a name, "the knight" is not); in a lower-case line (speech-to-text, hurried notes) any does.
"""

from __future__ import annotations

from piizone.scrubbers.findings import Finding
from piizone.scrubbers.name_lexicon import words

ENTITY = "PERSON"
RECOGNIZER = "KnownNamePass"
# A seed must be at least this confident: one-word guesses from name lists alone (0.55-0.6)
# would spread a mistake through the whole document.
MIN_SEED_SCORE = 0.7
SCORE = 0.7
MIN_LENGTH = 3
# Recognizers whose names seed in any case: a title or credential said it is a name.
TRUSTED_SEEDS = frozenset({"TitledNameRecognizer"})
# Words of a name finding that are not names themselves (titles, particles, function words).
_NOT_SEED_WORDS = """
    the and for van von der den del della de la le los las dos das mr mrs ms miss mister dr
    doctor prof sir lady lord saint san santa st jr sr iii mac mc her his him she they them this
    that with from said says
    """
_NOT_SEEDS = frozenset(_NOT_SEED_WORDS.split())


def known_name_findings(text: str, findings: list[Finding]) -> list[Finding]:
    """PERSON findings for the other mentions of the names already found in `text`."""
    seeds: set[str] = set()
    for f in findings:
        if f.entity_type != ENTITY or f.score < MIN_SEED_SCORE:
            continue
        for w in words(text[f.start : f.end]):
            if len(w.text) < MIN_LENGTH or w.lower in _NOT_SEEDS:
                continue
            # A name in capitals or lower case is a guess unless a title vouched for it
            # ("DR. KNIGHT"); spreading a wrong guess ("IABP", "cont") would repeat it.
            if _title_case(w.text) or f.recognizer in TRUSTED_SEEDS:
                seeds.add(w.lower)
    if not seeds:
        return []
    covered = sorted((f.start, f.end) for f in findings if f.entity_type == ENTITY)
    out = []
    lower_lines: dict[int, bool] = {}
    for w in words(text):
        if w.lower not in seeds or _covered(covered, w.start, w.end):
            continue
        if not w.capitalised and not _lower_line(text, w.start, lower_lines):
            continue
        out.append(Finding(w.start, w.end, ENTITY, SCORE, RECOGNIZER))
    return out


def _title_case(word: str) -> bool:
    return word[0].isupper() and not word.isupper()


def _lower_line(text: str, at: int, memo: dict[int, bool]) -> bool:
    """Is the line holding `at` free of capitals (memoised per line: a long one-line text)?"""
    start = text.rfind("\n", 0, at) + 1
    if start not in memo:
        end = text.find("\n", at)
        line = text[start : end if end >= 0 else len(text)]
        memo[start] = line == line.lower()
    return memo[start]


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    # Findings are few next to words; a linear scan of the PERSON ones is enough here.
    return any(a <= start and end <= b for a, b in spans)
