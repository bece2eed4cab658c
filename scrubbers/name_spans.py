"""Complete person-name findings that cover only part of a name.

A detector often gets one word of a name: spaCy tags "Akram" of "Wasim Akram", the name lists
find "Petr" of "Petr Korda". Redacting half a name leaves the other half, which with the context
usually identifies the person ("<PERSON> Korda" in a tennis result). A PERSON finding is widened
over the words right beside it that look like parts of the same name: written in the same case
style (Title case, or ALL CAPS next to an ALL-CAPS finding) and not ordinary English words, or
listed surnames in Title case ("Glyn Davies"). Initials and name particles between them are
taken along ("Maarten den Bakker", "Frank E. Peretti"), and after a middle initial a listed
surname even if it is a word too ("daniel k baker"). In text without any capital
(speech-to-text) a word of four letters or more that is no English word is taken along; after
a Title-case name, a listed surname typed in lower case that is no English word ("Anna
kowalczyk", as posts are written).
"""

from __future__ import annotations

from piizone.scrubbers.findings import Finding
from piizone.scrubbers.name_lexicon import NameLexicon, Word, words

ENTITY = "PERSON"
MAX_EXTRA_WORDS = 2
PARTICLES = frozenset(("de", "den", "der", "van", "von", "da", "di", "del", "la", "le", "bin"))
# One-letter words that are words, not initials, in lower-case text.
LOWER_NON_INITIALS = frozenset(("a", "i", "o"))


def complete_names(text: str, findings: list[Finding], lexicon: NameLexicon) -> list[Finding]:
    """`findings` with each PERSON finding widened over the name words beside it."""
    if not any(f.entity_type == ENTITY for f in findings):
        return findings
    ws = words(text)
    lower_text = not any(c.isupper() for c in text)
    starts = {w.start: k for k, w in enumerate(ws)}
    ends = {w.end: k for k, w in enumerate(ws)}
    out = []
    for f in findings:
        if f.entity_type != ENTITY or f.start not in starts or f.end not in ends:
            out.append(f)
            continue
        first, last = starts[f.start], ends[f.end]
        style = _style(ws[first : last + 1], lower_text)
        if style is None:
            out.append(f)
            continue
        new_last = _walk(text, ws, last, +1, style, lexicon)
        new_first = _walk(text, ws, first, -1, style, lexicon)
        if (new_first, new_last) == (first, last):
            out.append(f)
        else:
            out.append(Finding(ws[new_first].start, ws[new_last].end, f.entity_type, f.score,
                               f.recognizer))  # fmt: skip
    return out


def _style(ws: list[Word], lower_text: bool) -> str | None:
    named = [w for w in ws if len(w.text) > 1 and w.lower not in PARTICLES]
    if not named:
        return None
    if lower_text:
        return "lower"  # speech-to-text: no case to go by, only the word lists
    if all(w.text.isupper() for w in named):
        return "upper"
    if all(w.text[0].isupper() and not w.text.isupper() for w in named):
        return "title"
    return None


def _walk(text: str, ws: list[Word], k: int, step: int, style: str, lexicon: NameLexicon) -> int:
    """The farthest word index from k in direction `step` that is still part of the name."""
    best, added, j = k, 0, k
    while added < MAX_EXTRA_WORDS:
        n = j + step
        if not 0 <= n < len(ws):
            break
        a, b = (ws[j], ws[n]) if step > 0 else (ws[n], ws[j])
        gap = text[a.end : b.start]
        if gap != " " and not (len(a.text) == 1 and gap in (". ", ".")):
            break  # one blank between words; a dot only after an initial
        w = ws[n]
        if _initial(w, style) or w.lower in PARTICLES and step > 0:
            j = n  # an initial or a particle: only kept if a name word follows
            continue
        after_initial = step > 0 and j != best and _initial(ws[j], style)
        straight_after = step > 0 and added == 0 and j == best
        if not (
            _name_part(w, style, lexicon)
            or (after_initial and _surname(w, style, lexicon))
            or (straight_after and _lower_surname(w, style, lexicon))
        ):
            break
        best = j = n
        added += 1
    return best


def _initial(w: Word, style: str) -> bool:
    """A middle initial: one capital letter, or in lower-case text one letter that is not a
    word of its own ("daniel k baker"; not "a", "i", "o")."""
    if len(w.text) != 1:
        return False
    return w.text.isupper() or style == "lower" and w.lower not in LOWER_NON_INITIALS


def _lower_surname(w: Word, style: str, lexicon: NameLexicon) -> bool:
    """A surname typed in lower case after a Title-case name ("Anna kowalczyk"), as posts are
    written: a listed surname of four letters or more that is no English word."""
    return (
        style == "title"
        and w.text.islower()
        and len(w.text) >= 4
        and w.lower in lexicon.last_names
        and not lexicon.is_english(w.lower)
    )


def _surname(w: Word, style: str, lexicon: NameLexicon) -> bool:
    """A listed surname right after a middle initial: the initial says a name goes on, so a
    surname that is also a word counts ("daniel k baker", "Frank E. Young")."""
    if len(w.text) < 3 or w.lower not in lexicon.last_names:
        return False
    if style == "lower":
        return w.text.islower()
    return style == "title" and w.text[0].isupper() and not w.text.isupper()


def _name_part(w: Word, style: str, lexicon: NameLexicon) -> bool:
    if len(w.text) < 3:
        return False
    if style == "lower":
        return w.text.islower() and len(w.text) >= 4 and not lexicon.is_english(w.lower)
    if style == "upper":
        return w.text.isupper() and not lexicon.is_english(w.lower)
    if not (w.text[0].isupper() and not w.text.isupper()):
        return False
    if not lexicon.is_english(w.lower):
        return True
    return w.lower in lexicon.last_names and w.lower not in lexicon.english
