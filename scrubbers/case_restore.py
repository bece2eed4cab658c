"""Case-restored copies of ALL-CAPS and lower-case lines, for a second NER pass.

spaCy's NER leans on capital letters: in "DR HEALEY SPOKE WITH LISA ROSSETTI" every word looks
like a name, in "i was reading isaac asimov" none does, and the model finds few of the names in
nursing notes written in capitals or in speech-to-text output. A copy of such a line with
ordinary case ("dr Healey spoke with Lisa Rossetti", "i was reading Isaac Asimov") reads like the
edited text the model was trained on: English words lower case, other words capitalised.

The copy has the same length, character for character (a word whose case mapping would change
its length, such as "ß" -> "SS", is left as it is), so the entities found in it are offsets
into the original text. Lines with ordinary mixed case are copied unchanged; a text with no
line to restore gives None, and no second pass is run.
"""

from __future__ import annotations

from scrubbers.name_lexicon import NameLexicon, words

# A line is restored when at least this share of its cased letters is upper case (shouting
# notes) or when it has no capital at all (speech-to-text, hurried typing).
CAPS_SHARE = 0.8
MIN_LETTERS = 12
# Hesitations and chat words that are in no dictionary yet are never names.
_FILLERS = """
    uh um uhm hm hmm mm mhm huh ah oh eh er erm ugh yeah yep nope nah okay ok gonna wanna
    uh-huh um-hum mm-hmm huh-uh uh-uh uh-oh
    gotta kinda sorta dunno ya yah yup lol omg btw pls thx haha hahaha
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
    """`text` with its ALL-CAPS and lower-case lines in ordinary case; None if none has one."""
    out: list[str] = []
    changed = False
    for line in text.splitlines(keepends=True):
        kind = line_case(line)
        if kind == "mixed":
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
    upper = line_case(line) == "upper"
    capital = []
    for w in ws:
        low = w.lower
        if len(low) < 2 or low in FILLERS or lexicon.is_english(low):
            capital.append(False)
        elif upper and len(low) <= 3:
            capital.append(None)  # "MAE", "CXR", "NPN": abbreviations stay as written
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
        elif cap is None:
            continue
        elif cap:
            new = w.text[0].upper() + w.text[1:].lower()
        else:
            new = w.text.lower()
        if len(new) == len(w.text):
            chars[w.start : w.end] = new
    return "".join(chars)


def _adjacent(line: str, a, b) -> bool:
    return len(line[a.end : b.start]) <= 3 and not line[a.end : b.start].strip(" .")
