#!/usr/bin/env python3
"""Generate piizone's synthetic, production-like sample data. Every value is fake.

Run from the repository root:

    .venv/bin/python sample_data/generate.py            # rewrite the files next to this script
    .venv/bin/python sample_data/generate.py --out DIR  # write them into DIR instead

The output is deterministic: each section uses its own Faker instance seeded with
``seed_instance`` and its own ``random.Random`` with a fixed seed, and all dates are drawn
from fixed ranges (never from "today"), so the same Faker/pandas/pyarrow versions always
produce byte-identical files.

Files written:
    customers.csv            500 customers: identifiers, clean numeric/categorical columns, notes
    transactions.parquet     2,000 card transactions referencing customers
    call_transcripts/*.txt   12 call-center conversations (half clean, half ASR-style)
    support_tickets.jsonl    300 support tickets with free-text bodies
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker

HERE = Path(__file__).resolve().parent

SEED = 20240601
N_CUSTOMERS = 500
N_TRANSACTIONS = 2000
N_TRANSCRIPTS = 12
N_TICKETS = 300

# Fixed "as of" date: ages and recent dates are computed from it, never from today.
AS_OF = dt.date(2024, 12, 31)
TX_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TX_END = dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

CUSTOMER_COLUMNS = [
    "customer_id",
    "full_name",
    "email",
    "phone",
    "ssn",
    "date_of_birth",
    "street_address",
    "plan",
    "monthly_spend",
    "tenure_months",
    "churned",
    "notes",
]

# Assigned US area codes (a small, realistic spread), used when Faker draws an unassigned one.
AREA_CODES = re.findall(
    r"\d{3}",
    "201 202 203 205 206 207 208 210 212 213 214 215 216 217 218 219 224 225 228 231 234 239 "
    "248 251 252 253 254 256 260 262 267 269 270 281 301 302 303 304 305 307 308 309 310 312 "
    "313 314 315 316 317 318 319 320 321 323 330 331 334 336 337 339 347 351 352 360 361 385 "
    "386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 419 423 425 430 432 434 435 "
    "440 443 469 478 479 480 484 501 502 503 504 505 507 508 509 510 512 513 515 516 517 518 "
    "520 530 540 541 551 559 561 562 563 567 570 571 573 574 575 580 585 586 601 602 603 605 "
    "606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 641 646 650 651 "
    "657 660 661 662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 719 720 "
    "724 727 731 732 734 740 754 757 760 763 765 770 772 773 774 775 781 785 786 801 802 803 "
    "804 805 806 808 810 812 813 814 815 816 817 818 828 830 831 832 843 845 847 848 850 856 "
    "857 858 859 860 862 863 864 865 870 901 903 904 906 907 908 909 910 912 913 914 915 916 "
    "917 918 919 920 925 928 931 936 937 940 941 947 949 951 952 954 956 970 971 972 973 978 "
    "979 980 985 989",
)

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip


def make_faker(offset: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(SEED + offset)
    return fake


# --------------------------------------------------------------------------- small generators


def luhn_check_digit(payload: str) -> str:
    """The Luhn check digit that makes ``payload + digit`` valid."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return len(digits) > 0 and total % 10 == 0


def card_number(rng: random.Random) -> str:
    """A 16-digit, Luhn-valid Visa or Mastercard number (digits only)."""
    prefix = rng.choice(["4", "4", "4", "51", "52", "53", "54", "55", "2221", "2720"])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(15 - len(prefix)))
    return body + luhn_check_digit(body)


def faker_card(fake: Faker) -> str:
    number = fake.credit_card_number(card_type=fake.random_element(["visa16", "mastercard"]))
    assert len(number) == 16 and luhn_valid(number), number
    return number


def group_card(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def nanp_phone_digits(fake: Faker, rng: random.Random) -> str:
    """Ten NANP digits from Faker's phone_number, with extension/country code removed.

    The area code is replaced by an assigned one when Faker drew an unassigned code, and the
    exchange avoids N11 service codes and the 555 directory-assistance exchange.
    """
    raw = fake.phone_number().split("x")[0]
    digits = re.sub(r"\D", "", raw)[-10:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if area not in AREA_CODES:
        area = rng.choice(AREA_CODES)
    if exchange[0] in "01" or exchange[1:] == "11" or exchange == "555":
        exchange = str(rng.randint(2, 9)) + f"{rng.randint(20, 99)}"
    return area + exchange + line


def format_phone(digits: str, style: int) -> str:
    a, e, n = digits[:3], digits[3:6], digits[6:]
    return [
        f"({a}) {e}-{n}",
        f"{a}-{e}-{n}",
        f"+1 {a} {e} {n}",
        f"{a}.{e}.{n}",
        f"+1-{a}-{e}-{n}",
        f"({a}){e}-{n}",
    ][style]


def digit_string(rng: random.Random, n: int, first_nonzero: bool = True) -> str:
    first = str(rng.randint(1, 9)) if first_nonzero else str(rng.randint(0, 9))
    return first + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


SSN_RE = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")


def ssn(fake: Faker) -> str:
    while True:
        value = fake.ssn()
        if SSN_RE.match(value):
            return value


def ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def long_date(d: dt.date) -> str:
    """'March 3rd, 1985'."""
    return f"{d:%B} {d.day}{ordinal_suffix(d.day)}, {d.year}"


# --------------------------------------------------------------------------- spoken forms (ASR)

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
    """Cardinal words for 0..9999 ('forty two', 'one thousand two hundred five')."""
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
    """House numbers as people say them: '1234' -> 'twelve thirty four', '705' -> 'seven oh five'.

    Five-digit numbers are read digit by digit.
    """
    n = int(s)
    if len(s) == 4 and s[2] == "0" and s[3] != "0":
        return number_words(int(s[:2])) + " oh " + ONES[int(s[3])]
    if len(s) == 4 and s[1:] != "000":
        hi, lo = int(s[:2]), int(s[2:])
        return number_words(hi) + " " + ("hundred" if lo == 0 else number_words(lo))
    if len(s) == 3 and s[1] == "0" and s[2] != "0":
        return ONES[int(s[0])] + " oh " + ONES[int(s[2])]
    if len(s) == 3 and s[1:] != "00":
        return ONES[int(s[0])] + " " + number_words(int(s[1:]))
    if len(s) <= 4:
        return number_words(n)
    return " ".join(ONES[int(c)] for c in s)


@dataclass
class Voice:
    """How one ASR speaker says digits: 'oh' vs 'zero' and how often they say 'double five'."""

    rng: random.Random
    oh_rate: float = 0.8
    double_rate: float = 0.35

    def digits(self, s: str) -> str:
        words: list[str] = []
        i = 0
        while i < len(s):
            d = int(s[i])
            if i + 1 < len(s) and s[i + 1] == s[i] and self.rng.random() < self.double_rate:
                words.append("double " + self.zero_word(d))
                i += 2
                continue
            words.append(self.zero_word(d))
            i += 1
        return " ".join(words)

    def zero_word(self, d: int) -> str:
        if d == 0:
            return "oh" if self.rng.random() < self.oh_rate else "zero"
        return ONES[d]

    def grouped(self, s: str, sizes: list[int]) -> str:
        parts, i = [], 0
        for size in sizes:
            parts.append(self.digits(s[i : i + size]))
            i += size
        return " ".join(parts)


def spoken_email(address: str, voice: Voice) -> str:
    local, domain = address.split("@")
    out: list[str] = []
    for token in re.split(r"([._-])", local):
        if token == ".":
            out.append("dot")
        elif token == "_":
            out.append("underscore")
        elif token == "-":
            out.append("dash")
        elif token:
            letters = re.match(r"^([a-z]*)(\d*)$", token)
            if letters and letters.group(2):
                if letters.group(1):
                    out.append(letters.group(1))
                out.append(voice.digits(letters.group(2)))
            else:
                out.append(token)
    out.append("at")
    out.append(" dot ".join(domain.split(".")))
    return " ".join(out)


def spoken_street(street: str, voice: Voice) -> str:
    words = []
    for token in street.replace("Apt.", "apartment").split():
        if token.isdigit():
            words.append(pair_words(token) if voice.rng.random() < 0.7 else voice.digits(token))
        else:
            words.append(token.lower())
    return " ".join(words)


def spoken_money(amount: float) -> str:
    dollars, cents = divmod(round(amount * 100), 100)
    text = number_words(dollars) + (" dollar" if dollars == 1 else " dollars")
    return text + (f" and {number_words(cents)} cents" if cents else "")


# --------------------------------------------------------------------------- customers


@dataclass
class Address:
    street: str
    city: str
    state: str  # abbreviation
    zipcode: str

    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zipcode}"


@dataclass
class Customer:
    customer_id: int
    first: str
    last: str
    full_name: str
    gender: str
    email: str
    phone: str  # ten digits
    phone_style: int
    ssn: str
    dob: dt.date
    address: Address
    plan: str
    monthly_spend: float
    tenure_months: int
    churned: bool
    account_number: str
    cards: list[str] = field(default_factory=list)


def make_address(fake: Faker) -> Address:
    while True:
        street = fake.street_address()
        # Faker can draw "Suite 000" or a house number with a leading zero; people don't live there.
        if not re.search(r"\b0\d*\b", street):
            break
    state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
    return Address(street, fake.city(), state, fake.zipcode_in_state(state))


def make_email(fake: Faker, rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    f = re.sub(r"[^a-z]", "", first.lower())
    lname = re.sub(r"[^a-z]", "", last.lower())
    patterns = [
        f"{f}.{lname}",
        f"{f[0]}{lname}",
        f"{f}{lname}{rng.randint(1, 99)}",
        f"{f}_{lname}",
        f"{lname}.{f}",
        f"{f}{rng.randint(70, 99)}",
        f"{f[0]}.{lname}",
    ]
    local = rng.choice(patterns)
    domain = fake.free_email_domain() if rng.random() < 0.75 else fake.domain_name()
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{rng.randint(2, 999)}@{domain}"
    taken.add(email)
    return email


def make_person_name(fake: Faker, rng: random.Random, gender: str) -> tuple[str, str, str]:
    first = fake.first_name_female() if gender == "F" else fake.first_name_male()
    last = fake.last_name()
    if rng.random() < 0.12:
        full = f"{first} {fake.random_uppercase_letter()}. {last}"
    else:
        full = f"{first} {last}"
    return first, last, full


PLANS = {"basic": (9.99, 29.99), "plus": (29.99, 69.99), "premium": (69.99, 189.99)}


def make_customers() -> list[Customer]:
    fake = make_faker(1)
    rng = random.Random(SEED + 1)
    taken: set[str] = set()
    customers = []
    for cid in range(1, N_CUSTOMERS + 1):
        gender = rng.choice("FM")
        first, last, full = make_person_name(fake, rng, gender)
        plan = rng.choices(list(PLANS), weights=[5, 3, 2])[0]
        lo, hi = PLANS[plan]
        tenure = rng.randint(1, 120)
        churn_p = 0.35 if tenure < 12 else 0.12
        customers.append(
            Customer(
                customer_id=cid,
                first=first,
                last=last,
                full_name=full,
                gender=gender,
                email=make_email(fake, rng, first, last, taken),
                phone=nanp_phone_digits(fake, rng),
                phone_style=rng.randrange(6),
                ssn=ssn(fake),
                dob=fake.date_between_dates(
                    AS_OF.replace(year=AS_OF.year - 90), AS_OF.replace(year=AS_OF.year - 18)
                ),
                address=make_address(fake),
                plan=plan,
                monthly_spend=round(rng.uniform(lo, hi), 2),
                tenure_months=tenure,
                churned=rng.random() < churn_p,
                account_number=digit_string(rng, 8),
                cards=[card_number(rng) for _ in range(rng.choice([1, 1, 1, 2]))],
            )
        )
    return customers


RELATIVES = {
    "F": ["her husband", "her daughter", "her son", "her sister", "her mother"],
    "M": ["his wife", "his daughter", "his son", "his brother", "his father"],
}
RELATIVE_GENDER = {
    "husband": "M", "son": "M", "brother": "M", "father": "M",
    "wife": "F", "daughter": "F", "sister": "F", "mother": "F",
}  # fmt: skip

PII_NOTES = [
    "Spoke with {relative} {other_name}, who is listed as an authorized user.",
    "Customer asked to add {other_name} as a secondary contact on the account.",
    "Requested that receipts also be sent to {other_email}.",
    "Alternate contact number: {other_phone}.",
    "Called back from {other_phone} after the line dropped.",
    "Disputed a charge on the card ending {last4}; refund issued.",
    "Paid the overdue balance by phone with card {card}.",
    "Read card number {card} over chat to update autopay; advised not to share card details.",
    "Quoted account number {account} from an old statement; merged with current profile.",
    "Merged duplicate profile, old member number {account}.",
    "{relative_cap} {other_name} ({other_email}) handles the billing.",
    "Left voicemail for {other_name} at {other_phone}.",
    "Card ending in {last4} expired; customer will update payment method.",
]
CLEAN_NOTES = [
    "Asked about plan upgrade pricing.",
    "Prefers paperless billing.",
    "Requested a copy of the last invoice.",
    "Complained about slow support response times.",
    "Interested in the annual plan discount.",
    "Reported an issue with the mobile app login; resolved after reinstall.",
    "Asked to be removed from marketing emails.",
    "Satisfied with resolution, no follow-up needed.",
    "Wants to downgrade at the end of the billing cycle.",
    "Asked how to export usage history.",
    "Billing error corrected; 10% courtesy credit applied.",
    "Renewal reminder sent, no response yet.",
    "Escalated to tier 2 for a recurring outage.",
]


def make_note(fake: Faker, rng: random.Random, c: Customer) -> str:
    roll = rng.random()
    if roll < 0.05:
        return ""
    if roll >= 0.45:
        return rng.choice(CLEAN_NOTES)
    relative = rng.choice(RELATIVES[c.gender])
    rel_gender = RELATIVE_GENDER[relative.split()[1]]
    other_first = fake.first_name_female() if rel_gender == "F" else fake.first_name_male()
    other_last = c.last if rng.random() < 0.6 else fake.last_name()
    card = faker_card(fake)
    values = {
        "relative": relative,
        "relative_cap": relative[0].upper() + relative[1:],
        "other_name": f"{other_first} {other_last}",
        "other_email": make_email(fake, rng, other_first, other_last, set()),
        "other_phone": format_phone(nanp_phone_digits(fake, rng), rng.randrange(6)),
        "last4": rng.choice(c.cards)[-4:],
        "card": card if rng.random() < 0.6 else group_card(card, rng.choice([" ", "-"])),
        "account": c.account_number if rng.random() < 0.5 else digit_string(rng, 8),
    }
    return rng.choice(PII_NOTES).format(**values)


def write_customers(customers: list[Customer], out: Path) -> None:
    fake = make_faker(11)
    rng = random.Random(SEED + 11)
    with open(out / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CUSTOMER_COLUMNS)
        for c in customers:
            writer.writerow(
                [
                    c.customer_id,
                    c.full_name,
                    c.email,
                    format_phone(c.phone, c.phone_style),
                    c.ssn,
                    c.dob.isoformat(),
                    c.address.one_line(),
                    c.plan,
                    f"{c.monthly_spend:.2f}",
                    c.tenure_months,
                    "true" if c.churned else "false",
                    make_note(fake, rng, c),
                ]
            )


# --------------------------------------------------------------------------- transactions


def write_transactions(customers: list[Customer], out: Path) -> None:
    fake = make_faker(2)
    rng = random.Random(SEED + 2)
    merchants = [fake.company() for _ in range(120)]
    span = int((TX_END - TX_START).total_seconds())
    rows = []
    for i in range(1, N_TRANSACTIONS + 1):
        c = rng.choice(customers)
        card = rng.choice(c.cards)
        rows.append(
            {
                "transaction_id": f"T{i:06d}",
                "customer_id": c.customer_id,
                "card_number": card if rng.random() < 0.7 else group_card(card),
                "amount": round(min(rng.lognormvariate(3.6, 0.9), 4999.0) + 0.5, 2),
                "currency": "USD",
                "merchant": rng.choice(merchants),
                "timestamp": TX_START + dt.timedelta(seconds=rng.randrange(span)),
                "ip_address": fake.ipv4_public(),
                "status": "declined" if rng.random() < 0.08 else "approved",
            }
        )
    df = pd.DataFrame(rows).sort_values("timestamp", kind="stable").reset_index(drop=True)
    df["transaction_id"] = [f"T{i:06d}" for i in range(1, len(df) + 1)]
    df["customer_id"] = df["customer_id"].astype("int64")
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).astype("datetime64[us, UTC]")
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, out / "transactions.parquet", compression="zstd")


# --------------------------------------------------------------------------- call transcripts

# A value that the two renderers (clean text / ASR) display differently.


@dataclass
class Spoken:
    kind: str  # digits|card|phone|email|date|street|address|money|text
    value: object
    split: bool = False  # ASR: the customer reads it across two turns around an agent backchannel


AGENT_NAMES = ["Dana", "Marcus", "Priya", "Tom", "Alicia", "Kevin", "Rosa", "Sam"]
COMPANY = "Northwind Wireless"
BACKCHANNELS = ["mhm go on", "okay", "uh huh", "yep go ahead", "got it keep going", "mhm"]


def clean_render(sp: Spoken, rng: random.Random) -> str:
    v = sp.value
    if sp.kind == "card":
        return group_card(str(v), rng.choice([" ", " ", "-"]))
    if sp.kind == "phone":
        return format_phone(str(v), rng.choice([0, 1, 3]))
    if sp.kind == "date":
        return long_date(v)  # type: ignore[arg-type]
    if sp.kind == "shortdate":
        return long_date(v).split(",")[0]  # type: ignore[arg-type]
    if sp.kind == "address":
        return v.one_line()  # type: ignore[union-attr]
    if sp.kind == "money":
        return f"${v:,.2f}"
    return str(v)


def asr_render(sp: Spoken, voice: Voice) -> str:
    v = sp.value
    if sp.kind == "card":
        return voice.grouped(str(v), [4, 4, 4, 4])
    if sp.kind == "phone":
        return voice.grouped(str(v), [3, 3, 4])
    if sp.kind == "digits":
        return voice.digits(str(v))
    if sp.kind == "email":
        return spoken_email(str(v), voice)
    if sp.kind == "date":
        d: dt.date = v  # type: ignore[assignment]
        return f"{d:%B}".lower() + f" {ordinal_words(d.day)} {year_words(d.year)}"
    if sp.kind == "shortdate":
        d = v  # type: ignore[assignment]
        return f"{d:%B}".lower() + f" {ordinal_words(d.day)}"
    if sp.kind == "address":
        a: Address = v  # type: ignore[assignment]
        return (
            f"{spoken_street(a.street, voice)} {a.city.lower()} "
            f"{STATE_NAMES[a.state].lower()} {voice.digits(a.zipcode)}"
        )
    if sp.kind == "money":
        return spoken_money(float(v))  # type: ignore[arg-type]
    return asr_text(str(v))


def asr_text(text: str) -> str:
    text = text.lower().replace("-", " ").replace("&", "and")
    text = re.sub(r"[^\w\s']", "", text)
    return re.sub(r"\s+", " ", text).strip()


def split_point(sp: Spoken, rng: random.Random) -> int:
    return rng.choice([4, 8]) if sp.kind == "card" else rng.choice([3, 6])


class Call:
    """Builds one conversation as turns of (speaker, template, values)."""

    def __init__(self, c: Customer, rng: random.Random, fake: Faker) -> None:
        self.c, self.rng, self.fake = c, rng, fake
        self.turns: list[tuple[str, str, dict[str, Spoken]]] = []

    def a(self, template: str, **values: Spoken) -> None:
        self.turns.append(("agent", template, values))

    def u(self, template: str, **values: Spoken) -> None:
        self.turns.append(("customer", template, values))


def verification(call: Call) -> None:
    c, rng = call.c, call.rng
    checks = rng.sample(["dob", "ssn4", "phone", "address", "email", "account"], 2)
    for check in checks:
        if check == "dob":
            call.a("Can you confirm your date of birth for me?")
            call.u("It's {dob}.", dob=Spoken("date", c.dob))
        elif check == "ssn4":
            call.a("And the last four digits of your Social Security number?")
            call.u("{ssn4}.", ssn4=Spoken("digits", c.ssn[-4:]))
        elif check == "phone":
            call.a("What's the best phone number on the account?")
            call.u("It's {phone}.", phone=Spoken("phone", c.phone))
        elif check == "address":
            call.a("Can you verify the billing address?")
            call.u("Sure, {address}.", address=Spoken("address", c.address))
        elif check == "email":
            call.a("What email address do we have on file for you?")
            call.u("It should be {email}.", email=Spoken("email", c.email))
        else:
            call.a("Do you have your account number handy?")
            call.u("Yes, it's {account}.", account=Spoken("digits", c.account_number))


def scenario_lost_card(call: Call, split: bool) -> None:
    c = call.c
    card = c.cards[0]
    call.u("Hi, I think I lost my credit card and I need to block it.")
    call.a("I'm sorry to hear that. Let's get it blocked right away. May I have your full name?")
    call.u("My name is {name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a("Thank you. Can you read me the card number?")
    call.u("Yes, it's {card}.", card=Spoken("card", card, split))
    call.a("Thanks. The card ending in {last4} is now blocked.", last4=Spoken("digits", card[-4:]))
    call.u("Great, that's a relief.")
    call.a(
        "We'll mail a replacement to {address}. Is that still correct?",
        address=Spoken("address", c.address),
    )
    call.u("Yes, that's right.")
    call.a("It should arrive in five to seven business days.")


def scenario_dispute(call: Call, split: bool) -> None:
    c, rng, fake = call.c, call.rng, call.fake
    card = c.cards[-1]
    when = AS_OF - dt.timedelta(days=rng.randint(3, 40))
    call.u("Hello, there's a charge on my card that I don't recognize.")
    call.a("I can look into that. Can I get your name first?")
    call.u("Sure, it's {name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a("Which card is the charge on?")
    call.u("Let me read you the whole number, it's {card}.", card=Spoken("card", card, split))
    call.a(
        "I see a charge of {amount} at {merchant} on {when}. Is that the one?",
        amount=Spoken("money", round(rng.uniform(15, 900), 2)),
        merchant=Spoken("text", fake.company()),
        when=Spoken("shortdate", when),
    )
    call.u("Yes, I've never shopped there.")
    call.a(
        "I've opened a dispute. Your reference number is {ref}.",
        ref=Spoken("digits", digit_string(rng, 7)),
    )
    call.u("Can you send that to my email? It's {email}.", email=Spoken("email", c.email))
    call.a("Done, you'll get a confirmation shortly.")


def scenario_address(call: Call, split: bool) -> None:
    c, fake = call.c, call.fake
    new = make_address(fake)
    call.u("Hi, I moved recently and I need to update my address.")
    call.a("Congratulations on the move. Who am I speaking with?")
    call.u("This is {name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a("What's the new address?")
    call.u("It's {new}.", new=Spoken("address", new))
    call.a(
        "Okay, I've changed it from {old} to the new address.",
        old=Spoken("address", c.address),
    )
    call.u("Perfect. Will my next bill go there?")
    call.a("Yes, starting with the next billing cycle.")


def scenario_contact(call: Call, split: bool) -> None:
    c, rng, fake = call.c, call.rng, call.fake
    new_phone = nanp_phone_digits(fake, rng)
    new_email = make_email(fake, rng, c.first, c.last, {c.email})
    call.u("Hi, I got a new phone number and I want to update my contact details.")
    call.a("Sure, I can help. What's your name?")
    call.u("My name is {name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a("What's the new number?")
    call.u("The new number is {phone}.", phone=Spoken("phone", new_phone, split))
    call.a("Got it. And is your email still {email}?", email=Spoken("email", c.email))
    call.u("No, please change it to {new_email}.", new_email=Spoken("email", new_email))
    call.a("All updated. You'll get a text to confirm the new number.")


def scenario_billing(call: Call, split: bool) -> None:
    c, rng = call.c, call.rng
    call.u("Hi, my last bill was a lot higher than usual and I want to know why.")
    call.a("I can check that for you. Can I have your full name?")
    call.u("It's {name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a("Could you also give me your account number?")
    call.u("Yes, it's {account}.", account=Spoken("digits", c.account_number))
    call.a(
        "I see a roaming charge of {amount} from last month.",
        amount=Spoken("money", round(rng.uniform(20, 140), 2)),
    )
    call.u("Oh, that must be from my trip. Can you waive it?")
    call.a("I can credit half of it as a one-time courtesy.")
    call.u("Okay, I'll take that.")


def scenario_payment(call: Call, split: bool) -> None:
    c, rng = call.c, call.rng
    card = c.cards[0]
    call.u("Hi, I'd like to pay my bill over the phone.")
    call.a("Of course. May I have the name on the account?")
    call.u("{name}.", name=Spoken("text", c.full_name))
    verification(call)
    call.a(
        "Your balance is {amount}. Which card would you like to use?",
        amount=Spoken("money", c.monthly_spend),
    )
    call.u("My card number is {card}.", card=Spoken("card", card, split))
    call.a("And the expiration date?")
    call.u(
        "{month}/{year}.",
        month=Spoken("digits", f"{rng.randint(1, 12):02d}"),
        year=Spoken("digits", str(rng.randint(26, 30))),
    )
    call.a("And the three digit security code on the back?")
    call.u("{cvv}.", cvv=Spoken("digits", digit_string(rng, 3)))
    call.a("Thank you, the payment went through.")


SCENARIOS = [
    scenario_lost_card,
    scenario_dispute,
    scenario_address,
    scenario_contact,
    scenario_billing,
    scenario_payment,
]

FILLERS = [
    ("Let me pull up your account, one moment please.", "Sure."),
    ("Thanks for holding.", "No problem."),
    ("Sorry, the system is a little slow today.", "That's okay."),
    ("Can you hear me all right?", "Yes, you're a bit quiet but it's fine."),
    ("I'm just adding a note to your account.", "Okay."),
    ("Bear with me while I check something.", "Take your time."),
    ("Are you calling from the number on the account?", "Yes, I am."),
    ("I appreciate your patience.", "Thanks for helping."),
]


def build_call(index: int, c: Customer, rng: random.Random, fake: Faker, asr: bool) -> Call:
    call = Call(c, rng, fake)
    agent = AGENT_NAMES[index % len(AGENT_NAMES)]
    call.a(f"Thank you for calling {COMPANY}, this is {agent}. How can I help you today?")
    scenario = SCENARIOS[index % len(SCENARIOS)]
    # In ASR calls, card and phone numbers are usually read across two turns.
    scenario(call, asr and (index % 4 != 3))
    closing = [
        ("agent", "Is there anything else I can help you with today?", {}),
        ("customer", "No, that's everything. Thank you.", {}),
        ("agent", f"Thank you for calling {COMPANY}. Have a great day.", {}),
    ]
    target = rng.randint(15, 38)
    fillers = rng.sample(FILLERS, len(FILLERS))
    while len(call.turns) + len(closing) + 2 <= target and fillers:
        # Only between exchanges: after a customer answer, before the agent's next line.
        slots = [
            i
            for i in range(3, len(call.turns) + 1)
            if call.turns[i - 1][0] == "customer"
            and (i == len(call.turns) or call.turns[i][0] == "agent")
        ]
        at = rng.choice(slots)
        agent_line, customer_line = fillers.pop()
        call.turns[at:at] = [("agent", agent_line, {}), ("customer", customer_line, {})]
    call.turns.extend(closing)
    return call


def render_call(call: Call, rng: random.Random, asr: bool) -> str:
    lines: list[str] = []
    voice = Voice(rng, oh_rate=rng.choice([0.6, 0.9, 1.0]), double_rate=rng.choice([0.0, 0.3, 0.5]))
    formatter = string.Formatter()
    for speaker, template, values in call.turns:
        if not asr:
            text = template.format(**{k: clean_render(v, rng) for k, v in values.items()})
            lines.append(f"{speaker.capitalize()}: {text}")
            continue
        pieces: list[str] = []
        pending: list[str] = []  # turns inserted after this one (split readings)
        for literal, name, _spec, _conv in formatter.parse(template):
            if literal and asr_text(literal):
                pieces.append(asr_text(literal))
            if name is None:
                continue
            sp = values[name]
            if sp.split:
                digits = str(sp.value)
                cut = split_point(sp, rng)
                first, rest = Spoken(sp.kind, digits[:cut]), Spoken(sp.kind, digits[cut:])
                pieces.append(voice.digits(str(first.value)))
                pending.append(f"agent: {rng.choice(BACKCHANNELS)}")
                pending.append(f"customer: {voice.digits(str(rest.value))}")
            else:
                pieces.append(asr_render(sp, voice))
        text = " ".join(p for p in pieces if p)
        if speaker == "customer" and len(text.split()) > 3 and rng.random() < 0.3:
            fillers = ["um ", "uh "] if text.startswith(("yes", "no")) else ["um ", "uh ", "so "]
            text = rng.choice(fillers) + text
        lines.append(f"{speaker}: {text}")
        lines.extend(pending)
    return "\n".join(lines) + "\n"


def write_transcripts(customers: list[Customer], out: Path) -> None:
    fake = make_faker(3)
    rng = random.Random(SEED + 3)
    folder = out / "call_transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("call_*.txt"):
        old.unlink()
    callers = rng.sample(customers, N_TRANSCRIPTS)
    for i, c in enumerate(callers):
        asr = i % 2 == 1
        call = build_call(i, c, rng, fake, asr)
        text = render_call(call, rng, asr)
        (folder / f"call_{i + 1:03d}.txt").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- support tickets

TICKET_KINDS = {
    "shipping": (["Order not delivered", "Package still missing", "Where is my order?"],
                 ["shipping", "delivery"]),
    "refund": (["Refund request", "Refund not received yet", "Return and refund"],
               ["billing", "refund"]),
    "double_charge": (["Double charged", "Charged twice this month", "Duplicate payment"],
                      ["billing", "payments"]),
    "login": (["Cannot log in", "Password reset not working", "Account locked"],
              ["account", "login"]),
    "address": (["Change of address", "Update shipping address"], ["account", "profile"]),
    "app": (["App crashes on startup", "Sync error in the app", "Notifications not working"],
            ["app", "bug"]),
    "cancel": (["Cancel subscription", "Please close my account"], ["account", "cancellation"]),
}  # fmt: skip

TICKET_BODIES = {
    "shipping": [
        "My order {order} was supposed to arrive on {date} but it still hasn't shown up. "
        "Tracking has said 'in transit' for a week.",
        "I ordered a phone case (order {order}) and the courier marked it delivered, "
        "but nothing was left at {address}.",
    ],
    "refund": [
        "I returned order {order} on {date} and was told the refund would take five business "
        "days. It has been two weeks.",
        "Please refund order {order}. The item arrived damaged and I sent photos in the chat.",
    ],
    "double_charge": [
        "I was charged twice for my {month} bill on my card ending in {last4}.",
        "There are two identical payments on my statement for order {order}.",
    ],
    "login": [
        "I can't log in to my account. I reset my password twice and it still says the "
        "credentials are invalid.",
        "My account got locked after I tried to log in from {ip} while traveling.",
    ],
    "address": [
        "I moved. My new address is {new_address}. Please update it before my next order ships.",
        "Please change the shipping address on order {order} to {new_address}.",
    ],
    "app": [
        "The app crashes as soon as I open it on my phone. I'm on version {version} and "
        "already tried reinstalling.",
        "The app keeps showing a sync error since the last update ({version}).",
    ],
    "cancel": [
        "I'd like to cancel my subscription at the end of this billing period.",
        "Please close my account and delete my saved payment methods.",
    ],
}

TICKET_EXTRAS = [
    "You can reach me at {phone} between 9am and 5pm.",
    "My {relative_word} {other_name} also uses this account, you can reach {pronoun} "
    "at {other_email}.",
    "For reference, my account number is {account}.",
    "The card I used was {card}.",
    "If you need to send money back by bank transfer, my IBAN is {iban}.",
    "I was logged in from {ip} when it happened, in case that helps.",
    "I already called your hotline twice about this.",
    "This is really frustrating, I've been a customer for years.",
    "Thanks in advance for looking into it.",
]


def make_ticket(i: int, c: Customer, fake: Faker, ibans: list[Faker], rng: random.Random) -> dict:
    kind = rng.choice(list(TICKET_KINDS))
    subjects, tags = TICKET_KINDS[kind]
    channel = rng.choices(["email", "chat", "web"], weights=[5, 3, 2])[0]
    priority = rng.choices([1, 2, 3, 4], weights=[1, 3, 4, 2])[0]
    order = f"{rng.randint(100, 999)}-{digit_string(rng, 7)}"
    created = TX_START + dt.timedelta(
        seconds=rng.randrange(int((TX_END - TX_START).total_seconds()))
    )
    other_gender = rng.choice("FM")
    other_first = fake.first_name_female() if other_gender == "F" else fake.first_name_male()
    other_last = c.last if rng.random() < 0.5 else fake.last_name()
    iban_fake = rng.choice(ibans)
    values = {
        "order": order,
        "date": long_date((created - dt.timedelta(days=rng.randint(3, 20))).date()),
        "address": c.address.one_line(),
        "new_address": make_address(fake).one_line(),
        "month": f"{created:%B}",
        "last4": rng.choice(c.cards)[-4:],
        "ip": fake.ipv4_public(),
        "version": f"{rng.randint(3, 6)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}",
        "phone": format_phone(c.phone, rng.randrange(6)),
        "relative_word": "wife" if other_gender == "F" else "husband",
        "pronoun": "her" if other_gender == "F" else "him",
        "other_name": f"{other_first} {other_last}",
        "other_email": make_email(fake, rng, other_first, other_last, set()),
        "account": c.account_number,
        "card": group_card(c.cards[0]) if rng.random() < 0.5 else c.cards[0],
        "iban": iban_fake.iban(),
    }
    extras = TICKET_EXTRAS
    # Card numbers and IBANs only occasionally; other extras freely.
    weights = [4, 2, 2, 0.6, 0.6, 1.5, 3, 2, 4]
    chosen: list[str] = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        extra = rng.choices(extras, weights=weights)[0]
        if extra not in chosen:
            chosen.append(extra)
    main = rng.choice(TICKET_BODIES[kind])
    paragraphs = [main] + ([" ".join(chosen)] if chosen else [])
    body = "\n\n".join(p.format(**values) for p in paragraphs)
    if channel == "chat":
        body = body.replace("\n\n", " ")
        if rng.random() < 0.5:
            body = "hi, " + body[0].lower() + body[1:]
    else:
        greeting = rng.choice(["Hi,", "Hello,", "Dear Support,", "Hello support team,"])
        sign = rng.choice(
            [
                f"Thanks,\n{c.first}",
                f"Best regards,\n{c.full_name}",
                f"Thank you,\n{c.full_name}\n{format_phone(c.phone, 1)}",
                "Thanks",
            ]
        )
        body = f"{greeting}\n\n{body}\n\n{sign}"
    subject = rng.choice(subjects)
    if rng.random() < 0.08 and kind in ("shipping", "refund"):
        subject += f" (order {order})"
    ticket_tags = list(tags) + (["urgent"] if priority == 1 else []) + [channel]
    return {
        "ticket_id": f"TCK-{100000 + i}",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": channel,
        "priority": priority,
        "subject": subject,
        "body": body,
        "customer_email": c.email,
        "tags": ticket_tags,
    }


def write_tickets(customers: list[Customer], out: Path) -> None:
    fake = make_faker(4)
    rng = random.Random(SEED + 4)
    ibans = []
    for j, locale in enumerate(["de_DE", "en_GB", "fr_FR", "nl_NL"]):
        f = Faker(locale)
        f.seed_instance(SEED + 40 + j)
        ibans.append(f)
    tickets = [make_ticket(i, rng.choice(customers), fake, ibans, rng) for i in range(N_TICKETS)]
    tickets.sort(key=lambda t: (t["created_at"], t["ticket_id"]))
    for number, t in enumerate(tickets, start=1):  # ids follow creation time
        t["ticket_id"] = f"TCK-{100000 + number}"
    with open(out / "support_tickets.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for t in tickets:
            fh.write(json.dumps(t, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- main


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    customers = make_customers()
    write_customers(customers, out)
    write_transactions(customers, out)
    write_transcripts(customers, out)
    write_tickets(customers, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    generate(args.out)
    print(f"wrote sample data to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
