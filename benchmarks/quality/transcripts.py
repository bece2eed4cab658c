"""Labeled call-centre transcripts with exact gold spans, half clean text and half ASR-style.

Each transcript is built turn by turn from templates whose slots carry an entity type; the text and
the gold spans are produced together, so every span is exact by construction (and checked).

- Clean calls: "Agent: ..." / "Customer: ..." lines, normal casing, numerals ("4111 1111 ...",
  "(212) 555-0143", "03/14/1985", "jane.doe84@gmail.com").
- ASR calls: "agent: ..." / "customer: ..." lines, lower case, no punctuation, numbers read digit
  by digit ("oh" for zero most of the time, "double five" sometimes), e-mails read out
  ("jane dot doe eight four at gmail dot com"), dates in words, house numbers in pairs
  ("twelve thirty four"), and most card and phone numbers read across two customer turns around a
  short agent backchannel ("mhm", "okay go on"). Gold is then each segment separately, never the
  speaker label or the agent's words in between. Some callers spell their surname ("s m i t h").

Gold types: the direct identifiers of the targets (PERSON — callers, people they name and the agent
who gives a first name — EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN (full or the last four
asked for verification), STREET_ADDRESS (house number, street, unit), DATE_OF_BIRTH,
ACCOUNT_NUMBER) and quasi/other types (LOCATION for city and state, ZIP_CODE, ORGANIZATION for the
company and merchants, DATE_TIME for transaction dates and card expiry, CARD_SECURITY_CODE).
Amounts, durations, times and counts are left unlabeled on purpose: they are the non-PII numbers
over-redaction is measured on.

Values come from Faker (seeded) with the en_US locale; the phrasing is this module's own and differs
from sample_data/generate.py, which piizone's recognizers were written against.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

from benchmarks.quality.score import Sample, Span

SEED = 4242

# --------------------------------------------------------------------------- numbers in words

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten", "eleven", "twelve", "thirteen", "fourteen",
    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = {
    1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
    8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
    14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth",
    19: "nineteenth", 20: "twentieth", 30: "thirtieth",
}  # fmt: skip


def number_words(n: int) -> str:
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        tens, ones = divmod(n, 10)
        return TENS[tens] + ("" if ones == 0 else " " + ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    thousands, rest = divmod(n, 1000)
    return number_words(thousands) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def ordinal_words(n: int) -> str:
    if n in ORDINALS:
        return ORDINALS[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + " " + ORDINALS[ones]


def year_words(y: int) -> str:
    if 2000 <= y < 2010:
        return "two thousand" + ("" if y == 2000 else " " + ONES[y - 2000])
    hi, lo = divmod(y, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    return number_words(hi) + " " + ("oh " + ONES[lo] if lo < 10 else number_words(lo))


def pair_words(s: str) -> str:
    """House numbers as said: '1234' -> 'twelve thirty four', '705' -> 'seven oh five'."""
    if len(s) == 4 and s[2] == "0" and s[3] != "0":
        return number_words(int(s[:2])) + " oh " + ONES[int(s[3])]
    if len(s) == 4 and s[2:] != "00":
        return number_words(int(s[:2])) + " " + number_words(int(s[2:]))
    if len(s) == 3 and s[1] == "0" and s[2] != "0":
        return ONES[int(s[0])] + " oh " + ONES[int(s[2])]
    if len(s) == 3 and s[1:] != "00":
        return ONES[int(s[0])] + " " + number_words(int(s[1:]))
    if len(s) <= 4:
        return number_words(int(s))
    return " ".join(ONES[int(c)] for c in s)


def money_words(amount: float) -> str:
    dollars, cents = divmod(round(amount * 100), 100)
    out = number_words(dollars) + " dollars"
    return out + (f" and {number_words(cents)} cents" if cents else "")


@dataclass
class Voice:
    """How one ASR caller reads digits: 'oh' or 'zero', and how often 'double five'."""

    rng: random.Random
    oh_rate: float
    double_rate: float

    def digits(self, s: str) -> str:
        words, i = [], 0
        while i < len(s):
            d = int(s[i])
            if i + 1 < len(s) and s[i + 1] == s[i] and self.rng.random() < self.double_rate:
                words.append("double " + self.zero(d))
                i += 2
                continue
            words.append(self.zero(d))
            i += 1
        return " ".join(words)

    def zero(self, d: int) -> str:
        if d:
            return ONES[d]
        return "oh" if self.rng.random() < self.oh_rate else "zero"


# --------------------------------------------------------------------------- values


def luhn_complete(payload: str) -> str:
    total = 0
    for i, c in enumerate(reversed(payload)):
        v = int(c)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return payload + str((10 - total % 10) % 10)


def card_number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return luhn_complete("4" + "".join(rng.choice(string.digits) for _ in range(14)))
    if kind < 0.85:
        prefix = str(rng.randint(51, 55))
        return luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(13)))
    if kind < 0.95:
        prefix = rng.choice(["34", "37"])
        return luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(12)))
    return luhn_complete("6011" + "".join(rng.choice(string.digits) for _ in range(11)))


# Area codes in service (a sample of the NANP's US geographic codes): a random "349" is no phone
# number anywhere, and validating recognizers rightly reject it.
_AREA_CODE_LIST = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 229 231 234 "
    "239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307 308 309 "
    "310 312 313 314 315 316 317 318 319 320 321 323 325 330 334 336 337 339 347 351 352 360 361 "
    "385 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 419 423 424 425 430 432 434 "
    "435 440 443 469 470 475 478 479 480 484 501 502 503 504 505 507 508 509 510 512 513 515 516 "
    "517 518 520 530 540 541 551 559 561 562 563 567 570 571 573 574 575 580 585 586 601 602 603 "
    "605 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 641 646 650 651 "
    "657 660 661 662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 719 720 724 "
    "727 731 732 734 740 754 757 760 763 765 770 772 773 774 775 781 785 786 801 802 803 804 805 "
    "806 808 810 812 813 814 815 816 817 818 828 830 831 832 843 845 847 848 850 856 857 858 859 "
    "860 862 863 864 865 870 901 903 904 906 907 908 909 910 912 913 914 915 916 917 918 919 920 "
    "925 928 931 936 937 940 941 947 949 951 952 954 956 970 971 972 973 978 979 980 985 989"
)
AREA_CODES = tuple(_AREA_CODE_LIST.split())


def nanp_phone(rng: random.Random) -> str:
    exchange = str(rng.randint(2, 9)) + f"{rng.randint(0, 99):02d}"
    if exchange[1:] == "11":  # N11 codes are service numbers (411, 911)
        exchange = exchange[0] + "21"
    return rng.choice(AREA_CODES) + exchange + f"{rng.randint(0, 9999):04d}"


def ssn_number(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


STREET_TYPES = [
    ("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
    ("Court", "Ct"), ("Boulevard", "Blvd"), ("Place", "Pl"), ("Way", "Way"), ("Terrace", "Ter"),
    ("Circle", "Cir"), ("Parkway", "Pkwy"),
]  # fmt: skip
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"]
COMPANIES = ["Northgate Mobile", "Bluewater Bank", "Harbor Energy", "Summit Card Services"]
AGENTS = ["Dana", "Marcus", "Priya", "Tom", "Alicia", "Kevin", "Rosa", "Sam", "Jordan", "Leah"]
BACKCHANNELS = ["mhm", "okay", "uh huh", "okay go on", "yep", "got it", "mhm go ahead", "right"]
SPELL_CUES = ["that's", "spelled", "last name is spelled"]


@dataclass
class Address:
    number: str
    street: str  # "Maple"
    street_type: tuple[str, str]
    unit: str | None  # "Apt 5" / "Suite 210"
    city: str
    state: str  # full name
    state_abbr: str
    zipcode: str
    abbreviate: bool


@dataclass
class Person:
    first: str
    last: str
    dob: dt.date
    ssn: str
    phone: str
    email: str
    address: Address
    card: str
    account: str


def make_address(fake: Faker, rng: random.Random) -> Address:
    street = fake.last_name() if rng.random() < 0.5 else fake.street_name().split()[0]
    unit = None
    if rng.random() < 0.3:
        unit = rng.choice(["Apt", "Apartment", "Unit", "Suite"]) + " " + str(rng.randint(1, 40))
        if rng.random() < 0.3:
            unit += rng.choice("ABCD")
    state_abbr = rng.choice(sorted(STATE_NAMES))
    return Address(
        number=str(
            rng.choice([rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 9999)])
        ),
        street=street,
        street_type=rng.choice(STREET_TYPES),
        unit=unit,
        city=fake.city(),
        state=STATE_NAMES.get(state_abbr, state_abbr),
        state_abbr=state_abbr,
        zipcode=f"{rng.randint(1001, 99950):05d}",
        abbreviate=rng.random() < 0.4,
    )


def make_email(first: str, last: str, rng: random.Random, fake: Faker) -> str:
    f, la = re.sub(r"[^a-z]", "", first.lower()), re.sub(r"[^a-z]", "", last.lower())
    local = rng.choice([f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}", f"{la}.{f}", f"{f}"])
    if rng.random() < 0.5:
        local += str(rng.randint(1, 99))
    domain = rng.choice(FREE_MAIL) if rng.random() < 0.7 else fake.free_email_domain()
    if rng.random() < 0.2:
        domain = fake.domain_name()
    return f"{local}@{domain}"


def make_person(fake: Faker, rng: random.Random) -> Person:
    first, last = fake.first_name(), fake.last_name()
    return Person(
        first=first,
        last=last,
        dob=fake.date_of_birth(minimum_age=19, maximum_age=88),
        ssn=ssn_number(rng),
        phone=nanp_phone(rng),
        email=make_email(first, last, rng, fake),
        address=make_address(fake, rng),
        card=card_number(rng),
        account="".join(rng.choice(string.digits) for _ in range(rng.choice([8, 9, 10, 12]))),
    )


STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
}  # fmt: skip


# --------------------------------------------------------------------------- rendering


@dataclass
class V:
    """A slot value: its kind (how to render it), the value, its gold type (None: unlabeled)."""

    kind: str
    value: object
    entity: str | None
    split: bool = False  # ASR: read across two customer turns around an agent backchannel


class Renderer:
    """Renders slot values for one call, clean or ASR, with per-call habits."""

    def __init__(self, rng: random.Random, asr: bool):
        self.rng, self.asr = rng, asr
        self.voice = Voice(rng, rng.choice([0.6, 0.85, 1.0]), rng.choice([0.0, 0.3, 0.6]))
        self.card_sep = rng.choice([" ", " ", "-", ""])
        self.phone_style = rng.randrange(5)
        self.dob_style = rng.randrange(5)

    def render(self, v: V) -> str:
        return getattr(self, ("asr_" if self.asr else "clean_") + v.kind)(v.value)

    # clean text
    def clean_text(self, s) -> str:
        return str(s)

    clean_name = clean_text

    def clean_spelled(self, s) -> str:
        return "-".join(c.upper() for c in str(s) if c.isalpha())

    def clean_digits(self, s) -> str:
        return str(s)

    def clean_card(self, s) -> str:
        s = str(s)
        if len(s) == 15:
            return self.card_sep.join([s[:4], s[4:10], s[10:]])
        return self.card_sep.join(s[i : i + 4] for i in range(0, len(s), 4))

    def clean_phone(self, s) -> str:
        s = str(s)
        return [
            f"({s[:3]}) {s[3:6]}-{s[6:]}",
            f"{s[:3]}-{s[3:6]}-{s[6:]}",
            f"{s[:3]}.{s[3:6]}.{s[6:]}",
            f"+1 {s[:3]} {s[3:6]} {s[6:]}",
            f"{s[:3]} {s[3:6]} {s[6:]}",
        ][self.phone_style]

    def clean_ssn(self, s) -> str:
        s = str(s)
        return (
            f"{s[:3]}-{s[3:5]}-{s[5:]}" if self.rng.random() < 0.8 else f"{s[:3]} {s[3:5]} {s[5:]}"
        )

    def clean_email(self, s) -> str:
        return str(s)

    def clean_dob(self, d) -> str:
        return [
            f"{d:%B} {d.day}, {d.year}",
            f"{d:%m/%d/%Y}",
            f"{d.month}/{d.day}/{d.year}",
            f"{d.day} {d:%B} {d.year}",
            f"{d:%B} {d.day}{_suffix(d.day)}, {d.year}",
        ][self.dob_style]

    def clean_date(self, d) -> str:
        return f"{d:%B} {d.day}{_suffix(d.day)}"

    def clean_expiry(self, d) -> str:
        return f"{d:%m}/{d:%y}"

    def clean_street(self, a: Address) -> str:
        kind = a.street_type[1] if a.abbreviate else a.street_type[0]
        out = f"{a.number} {a.street} {kind}"
        return out + (f", {a.unit}" if a.unit else "")

    def clean_city(self, a: Address) -> str:
        return a.city

    def clean_state(self, a: Address) -> str:
        return a.state_abbr if a.abbreviate else a.state

    def clean_zip(self, a: Address) -> str:
        return a.zipcode

    def clean_money(self, x) -> str:
        return f"${x:,.2f}"

    def clean_count(self, n) -> str:
        return str(n)

    # ASR
    def asr_text(self, s) -> str:
        return asr_words(str(s))

    asr_name = asr_text

    def asr_spelled(self, s) -> str:
        return " ".join(c.lower() for c in str(s) if c.isalpha())

    def asr_digits(self, s) -> str:
        return self.voice.digits(str(s))

    asr_card = asr_phone = asr_ssn = asr_digits

    def asr_email(self, s) -> str:
        local, domain = str(s).split("@")
        out: list[str] = []
        for token in re.split(r"([._-])", local):
            if token in {".", "_", "-"}:
                out.append({".": "dot", "_": "underscore", "-": "dash"}[token])
            elif token:
                m = re.fullmatch(r"([a-z]*)(\d*)", token)
                if m and m.group(2):
                    if m.group(1):
                        out.append(m.group(1))
                    out.append(self.voice.digits(m.group(2)))
                else:
                    out.append(token)
        return " ".join(out) + " at " + " dot ".join(domain.split("."))

    def asr_dob(self, d) -> str:
        if self.dob_style == 1:  # "oh three one four nineteen eighty five"
            return self.voice.digits(f"{d:%m%d}") + " " + year_words(d.year)
        return f"{d:%B}".lower() + f" {ordinal_words(d.day)} {year_words(d.year)}"

    def asr_date(self, d) -> str:
        return f"{d:%B}".lower() + f" {ordinal_words(d.day)}"

    def asr_expiry(self, d) -> str:
        return self.voice.digits(f"{d:%m}") + " " + number_words(d.year % 100)

    def asr_street(self, a: Address) -> str:
        number = pair_words(a.number) if self.rng.random() < 0.7 else self.voice.digits(a.number)
        out = f"{number} {a.street.lower()} {a.street_type[0].lower()}"
        if a.unit:
            label, _, rest = a.unit.partition(" ")
            word = "apartment" if label in ("Apt", "Apartment") else label.lower()
            out += f" {word} {number_words(int(re.sub(r'[^0-9]', '', rest)))}"
            if rest[-1].isalpha():
                out += " " + rest[-1].lower()
        return out

    def asr_city(self, a: Address) -> str:
        return asr_words(a.city)

    def asr_state(self, a: Address) -> str:
        return asr_words(a.state)

    def asr_zip(self, a: Address) -> str:
        return self.voice.digits(a.zipcode)

    def asr_money(self, x) -> str:
        return money_words(float(x))

    def asr_count(self, n) -> str:
        return number_words(int(n))


def _suffix(n: int) -> str:
    return "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def asr_words(text: str) -> str:
    text = text.lower().replace("-", " ").replace("&", "and")
    text = re.sub(r"[^\w\s']", "", text)
    return re.sub(r"\s+", " ", text).strip()


class Transcript:
    """Accumulates lines and gold spans; text and spans are built together."""

    def __init__(self, renderer: Renderer):
        self.r = renderer
        self.lines: list[tuple[str, list[tuple[str, str | None]]]] = []  # speaker, pieces

    def say(self, speaker: str, template: str, **slots: V) -> None:
        pieces: list[tuple[str, str | None]] = []
        pending: list[tuple[str, list[tuple[str, str | None]]]] = []
        current = pieces
        for literal, name, _spec, _conv in string.Formatter().parse(template):
            if literal:
                current.append((literal, None))
            if name is None:
                continue
            v = slots[name]
            if self.r.asr and v.split and v.kind in ("card", "phone"):
                digits = str(v.value)
                cut = self.r.rng.choice([4, 8, 12] if v.kind == "card" else [3, 6])
                current.append((self.r.voice.digits(digits[:cut]), v.entity))
                rest: list[tuple[str, str | None]] = [(self.r.voice.digits(digits[cut:]), v.entity)]
                pending.append(("agent", [(self.r.rng.choice(BACKCHANNELS), None)]))
                pending.append((speaker, rest))
                current = rest
            else:
                current.append((self.r.render(v), v.entity))
        self.lines.append((speaker, pieces))
        self.lines.extend(pending)

    def build(self, sample_id: str, kind: str) -> Sample:
        text_parts: list[str] = []
        spans: list[Span] = []
        pos = 0
        for speaker, pieces in self.lines:
            label = (speaker if self.r.asr else speaker.capitalize()) + ": "
            text_parts.append(label)
            pos += len(label)
            line = self._join(pieces, spans, pos)
            text_parts.append(line + "\n")
            pos += len(line) + 1
        return Sample("".join(text_parts), spans, kind, sample_id)

    def _join(self, pieces: list[tuple[str, str | None]], spans: list[Span], base: int) -> str:
        out = ""
        for text, entity in pieces:
            if entity is None and self.r.asr:
                text = asr_words(text)
            if entity is None:
                if not text.strip():
                    if out and not out.endswith(" ") and text:
                        out += " "
                    continue
                if self.r.asr:
                    if out and not out.endswith(" "):
                        out += " "
                    out += text + " "
                else:
                    out += text
                continue
            if self.r.asr and out and not out.endswith(" "):
                out += " "
            spans.append(Span(base + len(out), base + len(out) + len(text), entity))
            out += text
            if self.r.asr:
                out += " "
        return out.strip() if self.r.asr else out


# --------------------------------------------------------------------------- scenarios

Scenario = Callable[["Call"], None]


class Call:
    def __init__(self, person: Person, other: Person, fake: Faker, rng: random.Random, asr: bool):
        self.p, self.other, self.fake, self.rng, self.asr = person, other, fake, rng, asr
        self.t = Transcript(Renderer(rng, asr))
        self.company = rng.choice(COMPANIES)
        self.agent = rng.choice(AGENTS)

    def a(self, template: str, **slots: V) -> None:
        self.t.say("agent", template, **slots)

    def c(self, template: str, **slots: V) -> None:
        if self.asr and self.rng.random() < 0.25:
            template = self.rng.choice(["Um, ", "Uh, ", "So "]) + template
        self.t.say("customer", template, **slots)

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    # values
    def name(self, p: Person | None = None) -> V:
        p = p or self.p
        return V("name", f"{p.first} {p.last}", "PERSON")

    def first(self, p: Person | None = None) -> V:
        return V("name", (p or self.p).first, "PERSON")

    def last(self, p: Person | None = None) -> V:
        return V("name", (p or self.p).last, "PERSON")

    def card(self) -> V:
        return V("card", self.p.card, "CREDIT_CARD", split=self.rng.random() < 0.75)

    def phone(self, number: str | None = None) -> V:
        return V("phone", number or self.p.phone, "PHONE_NUMBER", split=self.rng.random() < 0.6)

    def address_slots(self, a: Address | None = None) -> dict[str, V]:
        a = a or self.p.address
        return {
            "street": V("street", a, "STREET_ADDRESS"),
            "city": V("city", a, "LOCATION"),
            "state": V("state", a, "LOCATION"),
            "zip": V("zip", a, "ZIP_CODE"),
        }

    def money(self, lo: float, hi: float) -> V:
        return V("money", round(self.rng.uniform(lo, hi), 2), None)

    def count(self, lo: int, hi: int) -> V:
        return V("count", self.rng.randint(lo, hi), None)

    def recent_date(self) -> V:
        return V(
            "date", dt.date(2024, 1, 1) + dt.timedelta(days=self.rng.randint(0, 500)), "DATE_TIME"
        )


def greet(call: Call) -> None:
    call.a(
        call.pick(
            "Thank you for calling {company}, my name is {agent}. How can I help you today?",
            "{company}, this is {agent} speaking. What can I do for you?",
            "Hi, you've reached {company}. I'm {agent}, how can I help?",
        ),
        company=V("text", call.company, "ORGANIZATION"),
        agent=V("name", call.agent, "PERSON"),
    )


def ask_name(call: Call) -> None:
    call.a(
        call.pick(
            "Can I have your full name please?",
            "Who am I speaking with today?",
            "May I have the name on the account?",
            "Could you tell me your first and last name?",
        )
    )
    roll = call.rng.random()
    if roll < 0.12:
        call.c(
            "It's {first} {last}, {cue} {spelled}.",
            first=call.first(),
            last=call.last(),
            cue=V("text", call.rng.choice(SPELL_CUES), None),
            spelled=V("spelled", call.p.last, "PERSON"),
        )
        return
    call.c(
        call.pick(
            "My name is {name}.",
            "Yes, this is {name}.",
            "It's {name}.",
            "{name}.",
            "Sure, it's {name}, the account is under my name.",
            "The account holder is {name}, that's me.",
        ),
        name=call.name(),
    )
    if call.rng.random() < 0.5:
        call.a(
            call.pick("Thank you, {first}.", "Thanks {first}.", "Great, thanks {first}."),
            first=call.first(),
        )


def verify(call: Call, checks: int = 2) -> None:
    p = call.p
    for check in call.rng.sample(["dob", "ssn4", "phone", "email", "address", "account"], checks):
        if check == "dob":
            call.a(
                call.pick("Can you confirm your date of birth?", "And your date of birth, please?")
            )
            call.c(
                call.pick("It's {dob}.", "I was born on {dob}.", "{dob}.", "My birthday is {dob}."),
                dob=V("dob", p.dob, "DATE_OF_BIRTH"),
            )
        elif check == "ssn4":
            call.a(call.pick(
                "What are the last four digits of your Social Security number?",
                "Can you give me the last four of your social?",
            ))  # fmt: skip
            call.c(
                call.pick("{ssn4}.", "Sure, it's {ssn4}."), ssn4=V("digits", p.ssn[-4:], "US_SSN")
            )
        elif check == "phone":
            call.a(
                call.pick("What's the phone number on the account?", "And a good callback number?")
            )
            call.c(
                call.pick("It's {phone}.", "{phone}.", "You can reach me at {phone}."),
                phone=call.phone(),
            )
        elif check == "email":
            call.a(
                call.pick("What email do we have on file?", "Can you confirm your email address?")
            )
            call.c(
                call.pick("It's {email}.", "It should be {email}."),
                email=V("email", p.email, "EMAIL_ADDRESS"),
            )
        elif check == "address":
            call.a(call.pick("Can you verify your billing address?", "What's the address on file?"))
            call.c(
                call.pick("It's {street}, {city}, {state} {zip}.", "{street} in {city}, {state}."),
                **call.address_slots(),
            )
        else:
            call.a(
                call.pick("Do you have your account number?", "Can you read me the account number?")
            )
            call.c(
                call.pick("Yes, it's {account}.", "My account number is {account}.", "{account}."),
                account=V("digits", p.account, "ACCOUNT_NUMBER"),
            )


def scenario_lost_card(call: Call) -> None:
    call.c(call.pick(
        "Hi, I need to report my credit card stolen.",
        "Hello, I lost my wallet yesterday and my card was in it.",
    ))  # fmt: skip
    call.a("I'm sorry to hear that, let's get it blocked.")
    ask_name(call)
    verify(call)
    call.a(
        call.pick("Can you read me the card number?", "Which card is it? The full number please.")
    )
    call.c(call.pick("Sure, it's {card}.", "The number is {card}.", "{card}."), card=call.card())
    call.a(
        "Thanks. It's blocked now. We'll mail a new card to {street}, {city}, {state} {zip}. "
        "Is that still right?",
        **call.address_slots(),
    )
    call.c("Yes, that's right.")
    call.a("It should arrive in {a} to {b} business days.", a=call.count(3, 5), b=call.count(6, 10))


def scenario_move(call: Call) -> None:
    new = make_address(call.fake, call.rng)
    call.c("Hi, I moved last month and need to change my address.")
    ask_name(call)
    verify(call, 1)
    call.a("What's the new address?")
    call.c("It's {street}, {city}, {state} {zip}.", **call.address_slots(new))
    call.a("And the old one was {street} in {city}?", **call.address_slots())
    call.c(
        call.pick("Yes, I was there for {n} years.", "Right, that's the old one."),
        n=call.count(2, 15),
    )
    call.a("Done. Your next statement will go to the new address.")


def scenario_contact(call: Call) -> None:
    new_phone = nanp_phone(call.rng)
    new_email = make_email(call.p.first, call.p.last, call.rng, call.fake)
    call.c("Hi, I have a new phone number and I want to update it.")
    ask_name(call)
    verify(call, 1)
    call.a("Sure. What's the new number?")
    call.c(
        call.pick("The new one is {phone}.", "It's {phone}.", "{phone}."),
        phone=call.phone(new_phone),
    )
    call.a(
        "Got it. And should we keep {email} as your email?",
        email=V("email", call.p.email, "EMAIL_ADDRESS"),
    )
    call.c("No, please use {email} instead.", email=V("email", new_email, "EMAIL_ADDRESS"))
    call.a(
        "All set. You'll get a text at the new number in about {n} minutes.", n=call.count(2, 10)
    )


def scenario_payment(call: Call) -> None:
    call.c("Hi, I'd like to make a payment on my bill.")
    ask_name(call)
    verify(call, 1)
    call.a(
        "Your balance is {amount}. Which card would you like to use?", amount=call.money(40, 400)
    )
    call.c(
        call.pick("My card number is {card}.", "Okay, it's {card}.", "{card}."), card=call.card()
    )
    expiry = dt.date(2026 + call.rng.randint(0, 4), call.rng.randint(1, 12), 1)
    call.a("And the expiration date?")
    call.c("{expiry}.", expiry=V("expiry", expiry, "DATE_TIME"))
    call.a("And the security code on the back?")
    cvv = "".join(call.rng.choice(string.digits) for _ in range(3))
    call.c("{cvv}.", cvv=V("digits", cvv, "CARD_SECURITY_CODE"))
    call.a("Thank you, the payment of {amount} went through.", amount=call.money(40, 400))


def scenario_dispute(call: Call) -> None:
    call.c("Hello, there's a charge on my statement I don't recognize.")
    ask_name(call)
    verify(call)
    call.a(
        "I see a charge of {amount} at {merchant} on {date}. Is that the one?",
        amount=call.money(10, 900),
        merchant=V("text", call.fake.company(), "ORGANIZATION"),
        date=call.recent_date(),
    )
    call.c("Yes, I've never shopped there. I was at home all week.")
    call.a("I've opened a dispute. It takes up to {n} days.", n=call.count(10, 60))
    call.c(
        "Can you email me the details? It's {email}.",
        email=V("email", call.p.email, "EMAIL_ADDRESS"),
    )
    call.a("Sure, you'll have it within {n} hours.", n=call.count(1, 24))


def scenario_authorized_user(call: Call) -> None:
    o = call.other
    call.c(
        "Hi, I want to add my {rel} as an authorized user.",
        rel=V("text", call.pick("wife", "husband", "son", "daughter", "partner"), None),
    )
    ask_name(call)
    verify(call)
    call.a("What's their full name?")
    call.c(
        call.pick("It's {name}.", "{name}.", "Her name is {name}.", "His name is {name}."),
        name=call.name(o),
    )
    call.a("And their date of birth?")
    call.c(
        call.pick("{first} was born on {dob}.", "It's {dob}."),
        first=call.first(o),
        dob=V("dob", o.dob, "DATE_OF_BIRTH"),
    )
    call.a(
        "Thanks. {first} will get a card in about {n} days.",
        first=call.first(o),
        n=call.count(5, 10),
    )


def scenario_new_account(call: Call) -> None:
    p = call.p
    call.c("Hi, I'd like to open a new account.")
    ask_name(call)
    call.a("I'll need your Social Security number to run the application.")
    call.c(
        call.pick("Sure, it's {ssn}.", "My social is {ssn}.", "{ssn}."),
        ssn=V("ssn", p.ssn, "US_SSN"),
    )
    call.a("And your date of birth?")
    call.c("{dob}.", dob=V("dob", p.dob, "DATE_OF_BIRTH"))
    call.a("What's your home address?")
    call.c("{street}, {city}, {state} {zip}.", **call.address_slots())
    call.a("And a phone number and email?")
    call.c(
        "{phone}, and the email is {email}.",
        phone=call.phone(),
        email=V("email", p.email, "EMAIL_ADDRESS"),
    )
    call.a("You're approved for a limit of {amount}. Welcome aboard!", amount=call.money(500, 5000))


def scenario_billing(call: Call) -> None:
    call.c("Hi, my bill is about {a} higher than usual this month.", a=call.money(20, 120))
    ask_name(call)
    call.a("Can I get the account number?")
    call.c(
        call.pick("It's {account}.", "Account number {account}."),
        account=V("digits", call.p.account, "ACCOUNT_NUMBER"),
    )
    call.a(
        "I see {n} international calls on {date}, for {amount}.",
        n=call.count(2, 9),
        date=call.recent_date(),
        amount=call.money(10, 90),
    )
    call.c("Oh, that was my trip. I was away for {n} days.", n=call.count(3, 14))
    call.a("I can credit {amount} as a one-time courtesy.", amount=call.money(5, 45))


SCENARIOS: list[Scenario] = [
    scenario_lost_card,
    scenario_move,
    scenario_contact,
    scenario_payment,
    scenario_dispute,
    scenario_authorized_user,
    scenario_new_account,
    scenario_billing,
]

SMALL_TALK = [
    ("I'm just pulling up your account, one moment.", "Sure, no problem."),
    ("Thanks for holding, the system is slow today.", "That's fine."),
    ("Can you hear me okay?", "Yes, a little quiet but fine."),
    ("How long have you been with us?", "About {n} years now."),
    ("Is this the best time to reach you?", "Anytime after {n} pm works."),
    ("I'm adding a note to the account.", "Okay, thank you."),
]


def small_talk(call: Call) -> None:
    agent_line, customer_line = call.rng.choice(SMALL_TALK)
    call.a(agent_line)
    call.c(customer_line, n=call.count(2, 9))


def build(index: int, fake: Faker, rng: random.Random, asr: bool) -> Sample:
    person, other = make_person(fake, rng), make_person(fake, rng)
    call = Call(person, other, fake, rng, asr)
    greet(call)
    SCENARIOS[index % len(SCENARIOS)](call)
    for _ in range(rng.randint(0, 2)):
        small_talk(call)
    call.a("Is there anything else I can help you with?")
    call.c(
        call.pick("No, that's all. Thanks {agent}!", "No, that's everything, thank you."),
        agent=V("name", call.agent, "PERSON"),
    )
    call.a(
        "Thank you for calling {company}. Have a good day.",
        company=V("text", call.company, "ORGANIZATION"),
    )
    sample = call.t.build(
        f"call-{index:04d}-{'asr' if asr else 'clean'}", "asr" if asr else "clean"
    )
    sample.check()
    return sample


def generate(n: int = 300, seed: int = SEED) -> list[Sample]:
    """`n` transcripts (even index clean, odd index ASR), the same for the same seed."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [build(i, fake, rng, asr=bool(i % 2)) for i in range(n)]


if __name__ == "__main__":
    from collections import Counter

    data = generate(16)
    print(Counter(s.entity_type for d in data for s in d.spans).most_common())
    for d in data[:4]:
        print(d.text)
        print([(d.text[s.start : s.end], s.entity_type) for s in d.spans])
