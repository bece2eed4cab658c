"""Numbers read out digit by digit in ASR call transcripts: "four five three two", "double oh".

Speech-to-text writes what was said, so a card number arrives as words, often broken into groups
by the agent's "mhm" turns. Presidio's pattern recognizers only see numerals and miss all of it.
This recognizer is plain token logic: it needs no NLP artifacts and runs without spaCy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from presidio_analyzer import AnalysisExplanation, RecognizerResult
from stdnum import luhn

from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer


@dataclass(frozen=True)
class _Token:
    text: str  # lower-cased
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


@dataclass
class _Turn:
    speaker: str | None  # lower-cased label ("agent", "customer"), None for unlabelled lines
    tokens: list[_Token]  # the content after the label: words and single punctuation marks
    segments: list[_Segment] = field(default_factory=list)

    @property
    def word_count(self) -> int:
        return sum(token.is_word for token in self.tokens)


@dataclass(frozen=True)
class _Item:
    """One digit-bearing unit of a run: "five", "oh", "double five", "twenty three", "4532"."""

    first: int  # token indexes within the turn, inclusive
    last: int
    digits: str
    is_oh: bool  # "oh"/"o": a zero only when other digits surround it
    is_numeral: bool
    punct_before: bool  # a comma/hyphen/period separates it from the previous item


@dataclass
class _Segment:
    """A contiguous run of digits inside one turn: the unit that gets one RecognizerResult."""

    turn: int
    first: int  # token indexes within the turn, inclusive
    last: int
    digits: str
    spoken: bool  # has at least one digit word (pure numerals are left to Presidio)
    words_before: int
    words_after: int
    lead_has_context: bool  # "my social is ..." before it in its turn: a new number starts


class SpokenNumberRecognizer(TextRecognizer):
    """Card numbers, SSNs, phone and account numbers spoken as digit words, across turns.

    A digit run joins across speaker turns when the other speaker only says something short like
    "mhm go on"; the joined digit string is classified (Luhn, NANP shape, context words), and one
    result is emitted per contiguous segment so redaction never swallows speaker labels or the
    agent's words in between.
    """

    ENTITIES = ("CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "ACCOUNT_NUMBER")

    DIGIT_WORDS = {
        "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
        "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    }  # fmt: skip
    # "oh"/"o" is far more often an interjection ("oh okay") than a zero, so it only counts
    # inside a run that has real digits.
    ZERO_LETTERS = ("oh", "o")
    TEENS = {
        "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
        "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
    }  # fmt: skip
    TENS = {
        "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5",
        "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
    }  # fmt: skip
    REPEATERS = {"double": 2, "triple": 3}
    # Hesitations and linking words people put between digit groups; they neither break a run
    # nor become part of a span when they sit at its edge.
    FILLERS = ("um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "like", "and", "then")
    SEPARATORS = (",", "-", ".", "…", "–", "—")
    # More than this many fillers/separators in a row ends the run.
    MAX_GAP = 3

    # Context is searched in the words before a number (speaker labels excluded, so the
    # "customer:" label never reads as "customer number").
    CONTEXT_WINDOW = 12
    CONTEXT = {
        "card": ("card", "credit", "debit", "visa", "mastercard", "amex", "american express"),
        "ssn": ("social", "security", "ssn", "s s n"),
        "phone": ("phone", "cell", "mobile", "telephone", "callback", "call back", "reach"),
        "account": (
            "account", "acct", "member", "membership", "policy", "order", "reference",
            "confirmation", "customer number", "customer id", "claim", "invoice", "tracking",
        ),
        "last_four": ("last four", "last 4", "ending in", "ends in", "ending with"),
        "zip": ("zip", "zipcode", "postal"),
    }  # fmt: skip
    # A context word followed by one of these names the number being asked for.
    CONTEXT_HEADS = ("number", "no", "id", "digits")
    LAST_FOUR_OWNERS = {"card": "CREDIT_CARD", "ssn": "US_SSN", "account": "ACCOUNT_NUMBER"}

    # Cross-turn joining. An agent who says "mhm go on" or "okay" is letting the customer carry on
    # with the same number; an agent who asks something ("and the expiry?", "your zip") starts a
    # new one. A turn counts as a backchannel when it is this short, has no digits, no question
    # mark and none of these prompt words (nor any context word above).
    MAX_BACKCHANNEL_WORDS = 6
    PROMPT_WORDS = (
        "expiry", "expiration", "expires", "date", "birth", "code", "cvv", "cvc", "pin",
        "email", "address", "name", "number", "digits", "again", "repeat",
    )  # fmt: skip
    # How many ordinary words may sit after a run at the end of a turn ("... three two, sorry")
    # and before it at the start of the resumed turn ("and then one one ...") for a join.
    MAX_EDGE_WORDS = 2
    # The longest card number; a join that would go past it is two numbers, not one.
    MAX_JOINED_DIGITS = 19

    SCORE_CARD_LUHN = 0.9
    SCORE_CARD_CONTEXT = 0.6
    SCORE_LAST_FOUR = 0.6
    SCORE_SSN = 0.85
    SCORE_PHONE = 0.75
    SCORE_PHONE_CONTEXT = 0.85
    SCORE_ACCOUNT_CONTEXT = 0.75
    SCORE_LONG_RUN = 0.4

    # An optional "[00:01:23]" timestamp, then one word and an optional id ("speaker 1",
    # "speaker b"). Two ordinary words ("card no:") are content, not a label.
    _LABEL_RE = re.compile(
        r"[ \t]*(?:\[[^\]\n]*\][ \t]*)?"
        r"(?P<speaker>[A-Za-z][\w.'-]{0,24}(?:[ \t](?:[0-9]{1,3}|[A-Za-z]))?)[ \t]*:(?!\d)"
    )
    _TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
    _NUMERAL_RE = re.compile(r"[0-9]+")

    def load(self) -> None:
        """Index the context phrases by their first word (one dict look-up per window word)."""
        self._phrases_by_first_word: dict[str, list[tuple[str, list[str]]]] = {}
        for kind, phrases in self.CONTEXT.items():
            for phrase in phrases:
                parts = phrase.split()
                self._phrases_by_first_word.setdefault(parts[0], []).append((kind, parts))

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find spoken numbers in `text`; `nlp_artifacts` is not used."""
        wanted = set(entities) if entities else set(self.ENTITIES)
        turns = self._split_turns(text)
        for index, turn in enumerate(turns):
            turn.segments = self._find_segments(index, turn)
        # Context reads across turns but never the speaker labels: those are not in the tokens.
        word_keys = [
            (t, i)
            for t, turn in enumerate(turns)
            for i, token in enumerate(turn.tokens)
            if token.is_word
        ]
        word_index = {key: n for n, key in enumerate(word_keys)}
        context_words = [turns[t].tokens[i].text for (t, i) in word_keys]

        results = []
        for number in self._join_segments(turns):
            digits = "".join(segment.digits for segment in number)
            # Nothing shorter than a "last four" is ever an entity; pure numerals are left to
            # Presidio's own recognizers.
            if len(digits) < 4 or not any(segment.spoken for segment in number):
                continue
            first = number[0]
            position = word_index[(first.turn, first.first)]
            window = context_words[max(0, position - self.CONTEXT_WINDOW) : position]
            verdict = self._classify(digits, window)
            if verdict is None or verdict[0] not in wanted:
                continue
            entity, score, reason = verdict
            for segment in number:
                tokens = turns[segment.turn].tokens
                explanation = AnalysisExplanation(
                    recognizer=self.name,
                    original_score=score,
                    validation_result=luhn.is_valid(digits) if entity == "CREDIT_CARD" else None,
                    # Never the digits themselves: explanations can end up in reports.
                    textual_explanation=(
                        f"{reason}; {len(digits)} spoken digits in {len(number)} segment(s)"
                    ),
                )
                results.append(
                    RecognizerResult(
                        entity_type=entity,
                        start=tokens[segment.first].start,
                        end=tokens[segment.last].end,
                        score=score,
                        analysis_explanation=explanation,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return results

    # -- reading turns and runs ------------------------------------------------------------------

    def _split_turns(self, text: str) -> list[_Turn]:
        turns = []
        offset = 0
        for line in text.splitlines(keepends=True):
            label = self._LABEL_RE.match(line)
            content_start = label.end() if label else 0
            speaker = label.group("speaker").lower() if label else None
            tokens = [
                _Token(m.group().lower(), offset + m.start(), offset + m.end())
                for m in self._TOKEN_RE.finditer(line, content_start)
            ]
            if tokens or label:
                turns.append(_Turn(speaker, tokens))
            offset += len(line)
        return turns

    def _read_item(self, tokens: list[_Token], i: int, punct_before: bool) -> _Item | None:
        """The digit unit starting at token i, if any."""
        text = tokens[i].text
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if text in self.DIGIT_WORDS:
            return _Item(i, i, self.DIGIT_WORDS[text], False, False, punct_before)
        if text in self.ZERO_LETTERS:
            return _Item(i, i, "0", True, False, punct_before)
        if text in self.TEENS:
            return _Item(i, i, self.TEENS[text], False, False, punct_before)
        if text in self.TENS:
            # "twenty three" / "twenty-three" is one two-digit group; "twenty" alone is "20".
            unit_at = i + 1
            if nxt and nxt.text == "-" and nxt.start == tokens[i].end and i + 2 < len(tokens):
                unit_at = i + 2 if tokens[i + 2].start == nxt.end else len(tokens)
            if unit_at < len(tokens) and tokens[unit_at].text in self.DIGIT_WORDS:
                unit = self.DIGIT_WORDS[tokens[unit_at].text]
                if unit != "0":
                    return _Item(i, unit_at, self.TENS[text] + unit, False, False, punct_before)
            return _Item(i, i, self.TENS[text] + "0", False, False, punct_before)
        if text in self.REPEATERS and nxt is not None:
            # "double" only counts before a single digit: "double check" stays a word.
            if nxt.text in self.DIGIT_WORDS:
                digit = self.DIGIT_WORDS[nxt.text]
            elif nxt.text in self.ZERO_LETTERS:
                digit = "0"
            elif len(nxt.text) == 1 and nxt.text.isdigit():
                digit = nxt.text
            else:
                return None
            return _Item(i, i + 1, digit * self.REPEATERS[text], False, False, punct_before)
        if self._NUMERAL_RE.fullmatch(text):
            return _Item(i, i, text, False, True, punct_before)
        return None

    def _find_segments(self, turn_index: int, turn: _Turn) -> list[_Segment]:
        tokens = turn.tokens
        runs: list[list[_Item]] = []
        current: list[_Item] = []
        gap = 0
        punct = False
        i = 0
        while i < len(tokens):
            item = self._read_item(tokens, i, punct)
            if item is not None:
                current.append(item)
                gap, punct = 0, False
                i = item.last + 1
                continue
            text = tokens[i].text
            if current and gap < self.MAX_GAP and (text in self.SEPARATORS or text in self.FILLERS):
                gap += 1
                punct = punct or text in self.SEPARATORS
            else:
                if current:
                    runs.append(current)
                current, gap, punct = [], 0, False
            i += 1
        if current:
            runs.append(current)

        # Prefix counts of ordinary words keep a long single-line input linear.
        words_upto = [0]
        for token in tokens:
            words_upto.append(words_upto[-1] + (token.is_word and token.text not in self.FILLERS))
        segments = []
        for run in runs:
            run = self._drop_interjection_ohs(run, tokens)
            if not run:
                continue
            first, last = run[0].first, run[-1].last
            words_before = words_upto[first]
            segments.append(
                _Segment(
                    turn=turn_index,
                    first=first,
                    last=last,
                    digits="".join(item.digits for item in run),
                    spoken=any(not item.is_numeral for item in run),
                    words_before=words_before,
                    words_after=words_upto[-1] - words_upto[last + 1],
                    # Only a short lead can allow a join, so only a short lead is inspected.
                    lead_has_context=(
                        words_before <= self.MAX_EDGE_WORDS
                        and bool(
                            self._context_distances([t.text for t in tokens[:first] if t.is_word])
                        )
                    ),
                )
            )
        return segments

    def _drop_interjection_ohs(self, run: list[_Item], tokens: list[_Token]) -> list[_Item]:
        """An "oh" is a zero only beside real digits: not in "oh, four ..." nor "two oh okay"."""
        while run and run[0].is_oh and (len(run) == 1 or run[1].punct_before):
            run = run[1:]
        while run and run[-1].is_oh:
            after = run[-1].last + 1
            followed_by_word = (
                after < len(tokens)
                and tokens[after].is_word
                and tokens[after].text not in self.FILLERS
            )
            if not (len(run) == 1 or run[-1].punct_before or followed_by_word):
                break
            run = run[:-1]
        if all(item.is_oh for item in run):
            return []
        return run

    # -- joining across turns ----------------------------------------------------------------------

    def _join_segments(self, turns: list[_Turn]) -> list[list[_Segment]]:
        numbers: list[list[_Segment]] = []
        previous: _Segment | None = None
        for turn in turns:
            for segment in turn.segments:
                if previous is not None and self._continues(turns, previous, segment, numbers[-1]):
                    numbers[-1].append(segment)
                else:
                    numbers.append([segment])
                previous = segment
        return numbers

    def _continues(
        self, turns: list[_Turn], before: _Segment, after: _Segment, number: list[_Segment]
    ) -> bool:
        """Is `after` the same spoken number as `before`, resumed in a later turn?"""
        if after.turn == before.turn:
            return False  # two runs in one turn with words between are two numbers
        if before.words_after > self.MAX_EDGE_WORDS or after.words_before > self.MAX_EDGE_WORDS:
            return False
        if after.lead_has_context:
            return False
        if sum(len(s.digits) for s in number) + len(after.digits) > self.MAX_JOINED_DIGITS:
            return False
        speaker = turns[before.turn].speaker
        if turns[after.turn].speaker != speaker:
            return False
        if after.turn == before.turn + 1:
            return True  # the same speaker's line was split by the transcriber
        if after.turn == before.turn + 2 and speaker is not None:
            return self._is_backchannel(turns[before.turn + 1], speaker)
        return False

    def _is_backchannel(self, turn: _Turn, other: str) -> bool:
        """A short turn of the other speaker that only acknowledges ("mhm go on", "okay")."""
        if turn.speaker is None or turn.speaker == other:
            return False
        if turn.word_count > self.MAX_BACKCHANNEL_WORDS:
            return False
        texts = [token.text for token in turn.tokens]
        if "?" in texts or any(t in self.PROMPT_WORDS for t in texts):
            return False
        if any(self._NUMERAL_RE.fullmatch(t) for t in texts):
            return False
        # A lone digit word ("one moment") is not a digit; a run of two or more is a read-back.
        if any(len(segment.digits) >= 2 for segment in turn.segments):
            return False
        return not self._context_distances([t for t in texts if t[0].isalnum()])

    # -- classification ----------------------------------------------------------------------------

    def _context_distances(self, window: list[str]) -> dict[str, int]:
        """For each context kind in the window, its rank: the words between it and the number."""
        found: dict[str, int] = {}
        for start, word in enumerate(window):
            for kind, parts in self._phrases_by_first_word.get(word, ()):
                end = start + len(parts)
                if window[start:end] != parts:
                    continue
                distance = len(window) - end
                if end < len(window) and window[end] in self.CONTEXT_HEADS:
                    # "phone number on the account": the word naming the number outranks a
                    # nearer passing mention, whatever the distance.
                    distance -= self.CONTEXT_WINDOW
                found[kind] = min(found.get(kind, distance), distance)
        return found

    def _classify(self, digits: str, window: list[str]) -> tuple[str, float, str] | None:
        n = len(digits)
        context = self._context_distances(window)

        def nearest(*kinds: str) -> str | None:
            present = [kind for kind in kinds if kind in context]
            return min(present, key=context.__getitem__) if present else None

        if n == 4 and "last_four" in context:
            owner = nearest(*self.LAST_FOUR_OWNERS)
            if owner is None:
                return None
            return self.LAST_FOUR_OWNERS[owner], self.SCORE_LAST_FOUR, f"last four, {owner} context"
        if 13 <= n <= 19:
            if luhn.is_valid(digits):
                return "CREDIT_CARD", self.SCORE_CARD_LUHN, "card length, Luhn valid"
            if "card" in context:
                return "CREDIT_CARD", self.SCORE_CARD_CONTEXT, "card length, card context"
        if n == 9 and nearest("ssn", "zip") == "ssn":
            return "US_SSN", self.SCORE_SSN, "nine digits, SSN context"
        if n in (5, 9) and nearest("zip", "account") == "zip":
            return None  # a ZIP code: not an entity piizone redacts
        if self._is_nanp(digits) and nearest("phone", "account") != "account":
            if "phone" in context:
                return "PHONE_NUMBER", self.SCORE_PHONE_CONTEXT, "NANP shape, phone context"
            return "PHONE_NUMBER", self.SCORE_PHONE, "NANP shape"
        if n >= 6 and "account" in context:
            return "ACCOUNT_NUMBER", self.SCORE_ACCOUNT_CONTEXT, "account context"
        if n >= 7:
            return "ACCOUNT_NUMBER", self.SCORE_LONG_RUN, "long digit run, no context"
        return None

    @staticmethod
    def _is_nanp(digits: str) -> bool:
        """Ten digits (or eleven with a leading 1) whose area code cannot start with 0 or 1."""
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        return len(digits) == 10 and digits[0] not in "01"
