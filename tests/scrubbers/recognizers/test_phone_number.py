"""PhoneNumberRecognizer: matches (with the expected spans) and non-matches in one table."""

from __future__ import annotations

import time

import pytest

from piizone.scrubbers.recognizers.phone_number import PhoneNumberRecognizer

REC = PhoneNumberRecognizer(supported_regions=("US",))

CASES = [
    # Cue words before or after, whatever the area code or exchange.
    ("Home# 603-960-5357 work# 888-130-8121 ask", ["603-960-5357", "888-130-8121"]),
    ("Desk: (482)937-7308", ["(482)937-7308"]),
    ("539-184-1845 mobile", ["539-184-1845"]),
    ("9944 9125-Office, 0326 5398208 office", ["9944 9125", "0326 5398208"]),
    ("Fax: +447700971823", ["+447700971823"]),
    ("Cell 4829377308", ["4829377308"]),
    ("Tel.: 07700 555155", ["07700 555155"]),
    ("call me at 78 540 805 tomorrow", ["78 540 805"]),
    ("They're not answering at (11) 8845-5433", ["(11) 8845-5433"]),
    ("please stop messages to 0472 13 29 62", ["0472 13 29 62"]),
    ("Mobile: 33 50 96", ["33 50 96"]),
    ("Pager # 98765", ["98765"]),
    # Extensions belong to the number.
    ("Desk: (364)089-1432x2535", ["(364)089-1432x2535"]),
    ("Fax: 784.554.6924 ext. 12", ["784.554.6924 ext. 12"]),
    # A US number in any common format needs no cue.
    ("reach 482.937.7308 or 482 937 7308", ["482.937.7308", "482 937 7308"]),
    ("+1-482-937-7308 or 1 (482) 937-7308", ["+1-482-937-7308", "1 (482) 937-7308"]),
    ("SON ROB 285-482-5518 AND SON 648-199-1703", ["285-482-5518", "648-199-1703"]),
    ("dtr Frances Baker- 212- 476- 8356.", ["212- 476- 8356"]),
    ("line one\n(482)937-7308\n539-184-1845\nend", ["(482)937-7308", "539-184-1845"]),
    # International numbers, and numbers valid for a policy region.
    ("+41 (0)80 285 90 59", ["+41 (0)80 285 90 59"]),
    ("+44 20 7946 0958", ["+44 20 7946 0958"]),
    ("written (02) 8552 4159", ["(02) 8552 4159"]),
    ("it is 2125550199 now", ["2125550199"]),
    # Non-matches: measurements, dates, times, other identifiers.
    ("ABG 7.37/53/89/31/2. sats 95", []),
    ("co/ci/svr-5.5-6.0/2.8-3.2/900-700", []),
    ("pH 7.44-7.46 and 7.27-7.31", []),
    ("on 2024-01-15 at 10:30, call 12.03.2021", []),
    ("ZIP 12345-6789", []),
    ("SSN 123-45-6789, call me", []),
    ("phone card 4111 1111 1111 1111", []),
    ("paid $1,234.56", []),
    ("MRN 12345678", []),
    ("order 460-5737896 shipped", []),
    ("call about order 555-123-4567", []),
    ("IP 192.168.100.200", []),
    ("BP 120/80 HR 80-90 RR 1400-1600", []),
    ("Clyde 3 1 0 2 2 5 3", []),
    ("won 15-8 15-13 13-15", []),
    ("dollar 639.55 639.38", []),
    ("ISBN 978-0-13-110362-7", []),
    ("call me at 12:30 or 14:45", []),
    ("call me in 12 34 56 minutes", []),
    ("room 123456 and 12 345 678 units", []),
    ("an unvalidated 1234567 bare", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_phone_number(text, expected):
    found = [text[r.start : r.end] for r in REC.analyze(text, ["PHONE_NUMBER"])]
    assert found == expected


def test_regions_decide_numbers_without_a_cue_or_shape():
    text = "de 030 12345678 und"
    assert REC.analyze(text, ["PHONE_NUMBER"]) == []
    german = PhoneNumberRecognizer(supported_regions=("US", "DE"))
    assert [text[r.start : r.end] for r in german.analyze(text, ["PHONE_NUMBER"])] == [
        "030 12345678"
    ]


def test_a_megabyte_line_is_linear():
    # Quadratic work (a rescan of the text per candidate) took over 20 s here; linear is ~1 s.
    text = ("1-" * 100_000) + ("12 34 " * 60_000) + ("call 555-0134 " * 30_000) + " " * 100_000
    started = time.process_time()
    REC.analyze(text, ["PHONE_NUMBER"])
    assert time.process_time() - started < 10
