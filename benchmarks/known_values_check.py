"""Known-value redaction, measured on a zone: how many identifier values survive in its plaintext.

A synthetic customers table (Faker, fixed seed) whose free-text notes mention the row's own
values in varied forms (full name, surname only, lower case, phone with other separators,
e-mail), plus call transcripts that name some of the customers (lower-case names, spoken phone
numbers, surnames). `piizone init`, then `zone create` twice in a temporary PIIZONE_HOME: once
with known values off, once as shipped. Every file of each zone is decrypted in memory with the
library's own key and file-format code, and the plaintext is searched for every identifier
value: names and addresses case- and punctuation-insensitively, phones and SSNs as digits (with
spoken digits read as digits). Also counted: notes with no PII, some full of words that are
given names in the table ("will", "may", "grace", "bill"), that must come out unchanged.

Prints a Markdown section. Run: python benchmarks/known_values_check.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PIIZONE = [sys.executable, "-m", "piizone.cli.main"]
SEED = 20261201
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Given names that are ordinary words: rows with them test the over-redaction guard.
WORD_NAMES = ["Will", "May", "Grace", "Bill", "Mark", "Rose"]
CLEAN_NOTES = [
    "Customer will upgrade the plan next cycle if the discount holds.",
    "Renewal may slip to next month; follow up with the account team.",
    "Granted a grace period of ten days on the outstanding bill.",
    "Asked us to mark the ticket resolved; prices rose again this year.",
    "Reported an issue with the mobile app login; resolved after reinstall.",
]


def spoken(digits: str) -> str:
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def phone_forms(digits: str) -> list[str]:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", digits]


def generate(rows: int, out: Path) -> tuple[list[dict[str, str]], list[int]]:
    """customers.csv and calls/*.txt under `out`; the rows, and the indexes of clean notes."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(SEED)
    rnd = random.Random(SEED)
    people, clean = [], []
    for i in range(rows):
        first = WORD_NAMES[i % len(WORD_NAMES)] if i % 10 == 0 else fake.first_name()
        last = fake.last_name()
        digits = f"{rnd.randint(201, 989)}{rnd.randint(200, 999)}{rnd.randint(0, 9999):04d}"
        forms = phone_forms(digits)
        phone = forms[i % 3]  # the column's own format
        other = forms[i % 3 + 2]  # the same number written another way in the note
        user = f"{first.lower()}.{last.lower()}{rnd.randint(1, 99)}"
        email = f"{user}@{fake.free_email_domain()}"
        full = f"{first} {last}"
        kind = i % 8
        note = [
            f"Spoke with {full} about the late fee.",
            f"Spoke with {last} about the late fee.",
            f"spoke with {full.lower()} about the late fee.",
            f"Asked to be called back on {other} after 5pm.",
            f"Sent the confirmation to {email} and closed the case.",
            f"{first} {last} asked for a callback; reach {last} at {other}.",
            CLEAN_NOTES[(i // 8) % len(CLEAN_NOTES)],
            CLEAN_NOTES[(i // 8 + 1) % len(CLEAN_NOTES)],
        ][kind]
        if kind >= 6:
            clean.append(i)
        people.append(
            {
                "customer_id": str(i + 1),
                "full_name": full,
                "email": email,
                "phone": phone,
                "ssn": fake.ssn(),
                "street_address": fake.street_address(),
                "plan": rnd.choice(["basic", "plus", "premium"]),
                "notes": note,
                "_digits": digits,
                "_last": last,
            }
        )
    (out / "calls").mkdir(parents=True)
    with open(out / "customers.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, [k for k in people[0] if not k.startswith("_")])
        writer.writeheader()
        for p in people:
            writer.writerow({k: v for k, v in p.items() if not k.startswith("_")})
    for n, p in enumerate(people[1 : rows : max(rows // 20, 1)], 1):
        (out / "calls" / f"call_{n:03d}.txt").write_text(
            "Agent: thanks for calling, who am I speaking with?\n"
            f"Customer: hi this is {p['full_name'].lower()}.\n"
            "Agent: and the best number to reach you?\n"
            f"Customer: it's {spoken(p['_digits'])}.\n"
            f"Agent: thank you {p['_last']}. Is {p['email']} still your e-mail?\n"
            "Customer: yes it is.\n"
        )
    return people, clean


# -- searching the plaintext ------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")


def words(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.casefold()).strip() + " "


def digit_runs(text: str) -> list[str]:
    """Every number of the text as digits: written with any separators, or spoken."""
    spelled = re.sub(
        r"\b(" + "|".join(DIGIT_WORDS) + r")\b",
        lambda m: str(DIGIT_WORDS.index(m.group(1).lower())),
        text,
        flags=re.I,
    )
    runs = re.findall(r"\d(?:[\s\-.()+,]{0,3}\d)*", spelled)
    return [re.sub(r"\D", "", r) for r in runs]


def leaks(plaintext: str, people: list[dict[str, str]]) -> dict[str, int]:
    text = words(plaintext)
    numbers = digit_runs(plaintext)
    left = {k: 0 for k in ("full_name", "surname", "email", "phone", "ssn", "street_address")}
    for p in people:
        left["full_name"] += words(p["full_name"]) in text
        # As written, capitalised: the verb "may" is not a leak of the surname May.
        left["surname"] += re.search(rf"\b{re.escape(p['_last'])}\b", plaintext) is not None
        left["email"] += p["email"].casefold() in plaintext.casefold()
        left["phone"] += any(p["_digits"] in run for run in numbers)
        left["ssn"] += any(re.sub(r"\D", "", p["ssn"]) in run for run in numbers)
        left["street_address"] += words(p["street_address"]) in text
    return left


def zone_plaintext(home: Path, name: str) -> tuple[str, dict]:
    """Every data file of the zone, decrypted in memory, as one text; and the manifest."""
    os.environ["PIIZONE_HOME"] = str(home)
    from piizone.zones.lifecycle import unwrap_zone_key
    from piizone.zones.storage.crypto import iter_decrypt
    from piizone.zones.storage.store import ZoneStore

    store = ZoneStore(home)
    manifest = store.manifest(name)
    dek = unwrap_zone_key(store, manifest)
    directory = store.version_dir(name, manifest.version)
    parts = []
    for entry in manifest.files:
        with open(directory / entry.path, "rb") as f:
            data = b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path=entry.path))
        if entry.path.endswith(".parquet"):
            import io

            import pandas as pd

            data = pd.read_parquet(io.BytesIO(data)).to_csv(index=False).encode()
        parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts), manifest


def clean_kept(plaintext: str, people: list[dict[str, str]], clean: list[int]) -> int:
    return sum(people[i]["notes"] in plaintext for i in clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        people, clean = generate(args.rows, tmp_path / "src")
        home = tmp_path / "home"
        env = {**os.environ, "PIIZONE_HOME": str(home), "PYTHONPATH": str(REPO)}
        subprocess.run([*PIIZONE, "init"], env=env, check=True, capture_output=True)
        results = {}
        for label, flag in (("before", False), ("after", True)):
            started = time.perf_counter()
            if flag:  # as shipped: the CLI, known values on by default
                cmd = [*PIIZONE, "zone", "create", label, "--from", str(tmp_path / "src")]
                subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=REPO)
            else:  # the same build with known values off (a library switch, for this check)
                code = (
                    "from piizone.zones.provision.build import ZoneRequest, create_zone;"
                    f"create_zone(ZoneRequest({label!r}, [{str(tmp_path / 'src')!r}],"
                    " learn_known_values=False))"
                )
                subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=REPO)
            seconds = time.perf_counter() - started
            plaintext, manifest = zone_plaintext(home, label)
            results[label] = (
                leaks(plaintext, people),
                clean_kept(plaintext, people, clean),
                sum(n for f in manifest.files for n in f.known_values.values()),
                seconds,
            )
    calls = len(people[1 : args.rows : max(args.rows // 20, 1)])
    print("## Known-value redaction\n")
    print(
        f"`python benchmarks/known_values_check.py --rows {args.rows}`: a customers table of "
        f"{args.rows} rows (Faker seed {SEED}) whose notes mention the row's own values "
        f"(full name, surname only, lower case, phone written another way, e-mail) and "
        f"{calls} call transcripts naming customers (lower-case names, spoken phone numbers, "
        "surnames, e-mails); `zone create` with the default policy, every zone file decrypted "
        "and searched for every identifier value (case/punctuation-insensitive; phones and "
        "SSNs as digits, spoken digits included). Target: 0 left.\n"
    )
    print("| values left in the zone's plaintext | values | known values off | on |")
    print("|---|---:|---:|---:|")
    before, after = results["before"][0], results["after"][0]
    for key in before:
        print(f"| {key.replace('_', ' ')} | {len(people)} | {before[key]} | {after[key]} |")
    print(f"| **total** | | **{sum(before.values())}** | **{sum(after.values())}** |")
    print(
        f"\nClean notes (no PII; many full of words that are given names in the table: "
        f"will, may, grace, bill, mark, rose) kept verbatim: {results['before'][1]}/{len(clean)} "
        f"off, {results['after'][1]}/{len(clean)} on. Spans found as known values: "
        f"{results['after'][2]}. `zone create` wall time (fresh process, model load "
        f"included): {results['before'][3]:.1f} s off, {results['after'][3]:.1f} s on."
    )


if __name__ == "__main__":
    main()
