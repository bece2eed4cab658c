"""A case-restored copy of lower-case text, for a second NER pass.

spaCy's NER leans on capital letters: in "i was reading isaac asimov" it sees no name, and it
finds few of the names in speech-to-text output. A copy with ordinary case ("I was reading
Isaac Asimov") reads like the edited text the model was trained on: English words lower case,
other words capitalised, a listed first name that is also a word ("frank") capitalised when a
capitalised word follows it.

Only text with no capital letter at all is restored. Measured on ICU nursing notes, restoring
their ALL-CAPS lines, or the lower-case lines of notes that use capitals elsewhere, found 10
more names for ~740 false ones (drug names and abbreviations capitalised in the copy: "Lasix",
"Foley"): the title, initial and known-name passes find those names instead. ALL-CAPS is kept
as a line kind (line_case) for callers that want to tell it apart.

The copy has the same length, character for character (a word whose case mapping would change
its length is left as it is), so the entities found in it are offsets into the original.
"""

from __future__ import annotations

from piizone.scrubbers.name_lexicon import NameLexicon, words

# A line is restored when at least this share of its cased letters is upper case (shouting
# notes) or when it has no capital at all (speech-to-text, hurried typing).
CAPS_SHARE = 0.8
MIN_LETTERS = 12
# Hesitations and chat words that are in no dictionary yet are never names.
_FILLERS = """
    uh um uhm hm hmm mm mhm huh ah oh eh er erm ugh yeah yep nope nah okay ok gonna wanna
    uh-huh um-hum mm-hmm huh-uh uh-uh uh-oh
    gotta kinda sorta dunno ya yah yup lol omg btw pls thx haha hahaha
    plz wtf wth idk tbh smh imo imho lmao lmfao rofl ikr fyi brb omfg ftw irl yall
    """
FILLERS = frozenset(_FILLERS.split())


def line_case(line: str) -> str:
    """'upper', 'lower' or 'mixed' for one line (short lines count as mixed)."""
    upper = sum(c.isupper() for c in line)
    lower = sum(c.islower() for c in line)
    if upper + lower < MIN_LETTERS:
        return "mixed"
    if upper == 0:
        return "lower"
    if upper >= CAPS_SHARE * (upper + lower):
        return "upper"
    return "mixed"


def restore_case(text: str, lexicon: NameLexicon) -> str | None:
    """`text` in ordinary case if it has no capital letter at all (and enough letters to
    judge); None otherwise."""
    if any(c.isupper() for c in text):
        return None
    out: list[str] = []
    changed = False
    for line in text.splitlines(keepends=True):
        if line_case(line) != "lower":
            out.append(line)
            continue
        restored = _restore_line(line, lexicon)
        changed |= restored != line
        out.append(restored)
    if not changed:
        return None
    result = "".join(out)
    return result if len(result) == len(text) else None


def _restore_line(line: str, lexicon: NameLexicon) -> str:
    ws = words(line)
    capital = []
    for w in ws:
        low = w.lower
        if len(low) < 2 or low in FILLERS or lexicon.is_english(low):
            capital.append(False)
        else:
            capital.append(True)
    # A listed first name that is also a word ("frank", "will") is a name when a capitalised
    # word follows it, an initial between them allowed: "frank e peretti".
    for k in range(len(ws) - 1, -1, -1):
        if capital[k] is False and lexicon.is_first_name(ws[k].lower) and len(ws[k].text) > 1:
            nxt = k + 1
            if nxt < len(ws) and len(ws[nxt].text) == 1 and nxt + 1 < len(ws):
                nxt += 1
            chain = all(_adjacent(line, ws[j], ws[j + 1]) for j in range(k, min(nxt, len(ws) - 1)))
            if nxt < len(ws) and capital[nxt] and chain:
                capital[k] = True
                if nxt == k + 2:
                    capital[k + 1] = True
    chars = list(line)
    for w, cap in zip(ws, capital, strict=True):
        if w.lower == "i":
            new = "I"
        elif cap:
            new = w.text[0].upper() + w.text[1:].lower()
        else:
            new = w.text.lower()
        if len(new) == len(w.text):
            chars[w.start : w.end] = new
    return "".join(chars)


def _adjacent(line: str, a, b) -> bool:
    return len(line[a.end : b.start]) <= 3 and not line[a.end : b.start].strip(" .")
