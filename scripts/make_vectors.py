"""Write the known-answer vectors of tests/vectors/ from the specs alone.

    python scripts/make_vectors.py            # rewrite tests/vectors/{zone_format,audit}/
    python scripts/make_vectors.py --check    # exit 1 when the committed files differ

This script implements docs/zone-format.md and docs/audit-format.md a second time, with
`cryptography`'s HKDF, AES-GCM, HMAC and Ed25519 and `hashlib` used directly. It never imports
piizone: a bug shared by piizone's writer and reader cannot hide behind vectors computed by the
same code. Every value is deterministic (salts and nonce prefixes are derived from the vector's
name), so running it again reproduces the committed files byte for byte.

Vector files follow the C2SP age testkit's shape: a block of `name: value` header lines, one
blank line, then the body.

- zone_format/<name>: the body is the encrypted file. Headers: `expect` (`success` or the error
  kind), `rule` (the MUST-reject rule of docs/zone-format.md it breaks), `message` (a part of the
  reader's error, the spec's wording), `dek` (hex), `zone`, `path` (the binding), `payload`
  (SHA-256 of the plaintext, success only), `max-segment-index` (see rule 12 below), `comment`.
- audit/<name>: the body holds the files of one audit directory, each as a line
  `-- <file name> <size in bytes> --` followed by exactly that many bytes (sizes, not a closing
  marker, because some vectors end a file without LF). Headers: `expect` (`success` or the
  problem kind), `rule` (R1-R13, C1-C4), `seq`, `file`, `line` (the reported location, `-` for
  none), `key` (the MAC key, hex), `public-key` (raw Ed25519 public key, hex, when the vector has
  a checkpoint), `records` (success only: how many records verify), `comment`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "vectors"

# --- docs/zone-format.md -----------------------------------------------------------------

DEK = bytes(range(32))
OTHER_DEK = bytes(range(1, 33))
ZONE = "zone-7f3a"
PATH = "data/customers.parquet"
S = 16  # small segments so every rule is reachable with a few bytes


def _derived(label: str, name: str, size: int) -> bytes:
    return hashlib.sha256(f"{label}:{name}".encode()).digest()[:size]


def header_for(name: str, segment_size: int = S, version: int = 1) -> bytes:
    salt = _derived("salt", name, 32)
    prefix = _derived("nonce-prefix", name, 7)
    return b"PIIZ" + bytes([version]) + segment_size.to_bytes(4, "big") + salt + prefix


def file_key(dek: bytes, header: bytes, zone: str, path: str) -> bytes:
    info = b"piizone-file-v1" + zone.encode() + b"\x00" + path.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=header[9:41], info=info).derive(dek)


def seal_segments(
    header: bytes, segments: list[bytes], lasts: list[bool], zone: str = ZONE, path: str = PATH
) -> bytes:
    """Header + each segment sealed at its position with its last flag (any encoding, even a
    wrong one: the MUST-reject vectors need files a correct writer never produces)."""
    aead = AESGCM(file_key(DEK, header, zone, path))
    body = b""
    for i, (plain, last) in enumerate(zip(segments, lasts, strict=True)):
        nonce = header[41:48] + i.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        body += aead.encrypt(nonce, plain, header)
    return header + body


def split(plaintext: bytes, segment_size: int) -> list[bytes]:
    if not plaintext:
        return [b""]
    return [plaintext[i : i + segment_size] for i in range(0, len(plaintext), segment_size)]


def seal(
    name: str, plaintext: bytes, segment_size: int = S, zone: str = ZONE, path: str = PATH
) -> bytes:
    segments = split(plaintext, segment_size)
    lasts = [i == len(segments) - 1 for i in range(len(segments))]
    return seal_segments(header_for(name, segment_size), segments, lasts, zone, path)


def at(i: int) -> slice:
    return slice(48 + i * (S + 16), 48 + (i + 1) * (S + 16))


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def swap(ct: bytes, a: int, b: int) -> bytes:
    out = bytearray(ct)
    out[at(a)], out[at(b)] = ct[at(b)], ct[at(a)]
    return bytes(out)


FOUR = bytes(range(4 * S))  # exactly four full segments
TEN_AND_A_BIT = bytes(range(256))[: 10 * S + 5]  # ten full segments and a short one

# (name, plaintext, segment size, zone, path, comment)
ZONE_SUCCESS = [
    ("empty", b"", S, ZONE, PATH, "empty plaintext: the header and one empty last segment"),
    ("one-byte", b"x", S, ZONE, PATH, "a single short last segment"),
    ("one-full-segment", FOUR[:S], S, ZONE, PATH, "a plaintext of exactly S bytes"),
    ("four-full-segments", FOUR, S, ZONE, PATH, "a multiple of S ends with a full last segment"),
    ("ten-and-a-bit", TEN_AND_A_BIT, S, ZONE, PATH, "ten full segments and a short last one"),
    ("segment-size-one", b"abc", 1, ZONE, PATH, "the smallest segment size"),
    ("default-segment-size", b"name,email\n", 1 << 20, ZONE, PATH, "S = 1 MiB, the default"),
    ("utf8-binding", b"hej", S, "zone-\u00e5", "data/kunder \u00f8.csv", "UTF-8 zone id and path"),
]

MSG_AUTH0 = "authentication failed at segment 0: wrong key or file bound to another zone/path"


def _reject_vectors() -> list[tuple[str, str, int, str, bytes, dict[str, str], str]]:
    """(name, kind, rule, message, body, header overrides, comment)."""
    four = seal("four", FOUR)
    ten = seal("ten", TEN_AND_A_BIT)
    empty = seal("empty", b"")
    mid = at(2).stop
    return [
        ("empty-file", "not_piizone", 1, "not a piizone encrypted file", b"", {}, ""),
        ("bad-magic", "not_piizone", 1, "not a piizone encrypted file", b"PIIX" + four[4:], {},
         ""),
        ("plain-csv", "not_piizone", 1, "not a piizone encrypted file",
         b"name,email\nAda,ada@example.com\n", {}, "a file that was never encrypted"),
        ("version-2", "unsupported_version", 2, "unsupported format version 2",
         four[:4] + b"\x02" + four[5:], {}, ""),
        ("version-0", "unsupported_version", 2, "unsupported format version 0",
         four[:4] + b"\x00" + four[5:], {}, ""),
        ("header-cut-in-magic", "truncated_header", 3, "truncated: header is incomplete", b"PI",
         {}, ""),
        ("header-cut-after-magic", "truncated_header", 3, "truncated: header is incomplete",
         b"PIIZ", {}, ""),
        ("header-cut-in-salt", "truncated_header", 3, "truncated: header is incomplete",
         four[:30], {}, ""),
        ("segment-size-0", "invalid_segment_size", 4, "invalid segment size 0",
         four[:5] + b"\0\0\0\0" + four[9:], {}, ""),
        ("segment-size-64mib-plus-1", "invalid_segment_size", 4, "invalid segment size 67108865",
         four[:5] + ((64 << 20) + 1).to_bytes(4, "big") + four[9:], {}, ""),
        ("segment-size-max", "invalid_segment_size", 4, "invalid segment size 4294967295",
         four[:5] + b"\xff\xff\xff\xff" + four[9:], {}, ""),
        ("header-only", "no_segments", 5, "truncated: no segments after the header", four[:48],
         {}, ""),
        ("segment-shorter-than-tag", "short_segment", 6,
         "truncated: segment 0 is shorter than its authentication tag", empty[: 48 + 10], {}, ""),
        ("wrong-dek", "authentication", 7, MSG_AUTH0, four, {"dek": OTHER_DEK.hex()}, ""),
        ("other-path", "authentication", 7, MSG_AUTH0, four,
         {"path": "data/transactions.parquet"}, "a file moved to another path"),
        ("other-zone", "authentication", 7, MSG_AUTH0, four, {"zone": "zone-0000"},
         "a file copied into another zone"),
        ("empty-file-other-zone", "authentication", 7, MSG_AUTH0, empty, {"zone": "zone-0000"},
         ""),
        ("nul-separator", "authentication", 7, MSG_AUTH0,
         seal("nul", FOUR, zone="a", path="bc"), {"zone": "ab", "path": "c"},
         "sealed for zone 'a' path 'bc': the NUL keeps it from opening as zone 'ab' path 'c'"),
        ("flipped-size", "authentication", 7, MSG_AUTH0, flip(four, 8), {},
         "a bit flip in the segment size (still valid) changes the associated data"),
        ("flipped-salt", "authentication", 7, MSG_AUTH0, flip(four, 9), {}, ""),
        ("flipped-nonce-prefix", "authentication", 7, MSG_AUTH0, flip(four, 44), {}, ""),
        ("flipped-body", "authentication", 8, "authentication failed at segment 1",
         flip(four, at(1).start + 3), {}, ""),
        ("flipped-tag", "authentication", 8, "authentication failed at segment 2",
         flip(four, at(2).stop - 1), {}, ""),
        ("flipped-last-segment", "truncated", 8,
         "truncated or corrupted: final segment 3 failed authentication",
         flip(four, at(3).start), {}, "a bit flip in the last segment"),
        ("reordered", "out_of_order", 8,
         "segment out of order or duplicated: position 1 holds segment 2", swap(four, 1, 2), {},
         ""),
        ("first-two-swapped", "out_of_order", 8,
         "segment out of order or duplicated: position 0 holds segment 1", swap(four, 0, 1), {},
         ""),
        ("duplicated", "out_of_order", 8,
         "segment out of order or duplicated: position 3 holds segment 1",
         four[:mid] + four[at(1)] + four[mid:], {}, ""),
        ("dropped", "out_of_order", 8,
         "segment out of order or duplicated: position 1 holds segment 2",
         four[: at(1).start] + four[at(1).stop :], {}, ""),
        ("cut-at-boundary", "truncated", 9,
         "truncated: segment 2 is not marked last but the file ends there", four[:mid], {}, ""),
        ("cut-at-first-boundary", "truncated", 9,
         "truncated: segment 0 is not marked last but the file ends there", four[: at(0).stop],
         {}, ""),
        ("cut-mid-segment", "truncated", 9,
         "truncated or corrupted: final segment 2 failed authentication",
         four[: at(2).start + 20], {}, ""),
        ("last-byte-missing", "truncated", 9,
         "truncated or corrupted: final segment 10 failed authentication", ten[:-1], {}, ""),
        ("trailing-byte", "trailing_data", 10, "trailing data after the last segment",
         four + b"\0", {}, "after a full last segment"),
        ("trailing-segment", "trailing_data", 10, "trailing data after the last segment",
         four + four[at(3)], {}, "the last segment twice"),
        ("trailing-byte-short-last", "truncated", 10,
         "truncated or corrupted: final segment 10 failed authentication", ten + b"\0", {},
         "after a short last segment the extra byte moves its end: rejected as rule 9 says"),
        ("empty-final-segment", "empty_final_segment", 11,
         "empty final segment 2 on non-empty plaintext",
         seal_segments(header_for("efs"), [FOUR[:S], FOUR[S : 2 * S], b""], [False, False, True]),
         {}, "two full segments then an empty last one: not the one encoding"),
        ("too-many-segments", "too_many_segments", 12, "too many segments", four,
         {"max-segment-index": "2"},
         "2^32 segments cannot be a file in a repository: a reader whose counter limit is "
         "lowered to max-segment-index must reject this otherwise valid 4-segment file"),
    ]  # fmt: skip


def zone_vectors() -> dict[str, bytes]:
    files = {}
    for name, plaintext, size, zone, path, comment in ZONE_SUCCESS:
        headers = {
            "expect": "success",
            "dek": DEK.hex(),
            "zone": zone,
            "path": path,
            "payload": hashlib.sha256(plaintext).hexdigest(),
            "comment": comment,
        }
        files[f"ok-{name}"] = _vector(headers, seal(name, plaintext, size, zone, path))
    for name, kind, rule, message, body, over, comment in _reject_vectors():
        headers = {
            "expect": kind,
            "rule": str(rule),
            "message": message,
            "dek": DEK.hex(),
            "zone": ZONE,
            "path": PATH,
        }
        headers.update(over)
        headers["comment"] = comment
        files[f"rule{rule:02d}-{name}"] = _vector(headers, body)
    return files


# --- docs/audit-format.md ----------------------------------------------------------------

KEY = bytes(range(32))
SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
PUBLIC_RAW = SIGNER.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)
GENESIS = "0" * 64
SEG1 = "audit-000001.jsonl"
CP = "checkpoint.json"
TIME = "2025-01-31T08:00:00.000000Z"


def canonical(obj: object) -> bytes:
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mac(obj: dict, key: bytes = KEY) -> str:
    m = hmac.HMAC(key, hashes.SHA256())
    m.update(canonical({k: v for k, v in obj.items() if k != "mac"}))
    return m.finalize().hex()


def record(seq: object, **over: object) -> dict:
    rec = {
        "v": 1,
        "seq": seq,
        "time": TIME,
        "actor": {"uid": 1000, "user": "ada", "host": "h", "pid": 7},
        "action": "zone.open",
        "zone": "customers",
        "outcome": "success",
        "details": {},
    }
    rec.update(over)
    return rec


Files = dict[str, bytes]


def build(items: list, *, head: dict | None = None, name: str = SEG1, prev: str = GENESIS) -> Files:
    """`items` (records to chain and MAC, or raw lines) as one log file and a matching head.

    A record may hold "prev" or "mac" to override what the chain would give."""
    lines = []
    for item in items:
        if isinstance(item, dict):
            rec = dict(item)
            rec.setdefault("prev", prev)
            rec.setdefault("mac", mac(rec))
            line = canonical(rec)
        else:
            line = item
        lines.append(line)
        prev = h(line)
    data = b"".join(line + b"\n" for line in lines)
    head_obj = {"v": 1, "seq": len(lines), "file": name, "size": len(data), "last": prev}
    head_obj.update(head or {})
    head_obj.setdefault("mac", mac(head_obj))
    return {name: data, "head.json": canonical(head_obj) + b"\n"}


def sign(files: Files, **over: object) -> Files:
    """Add checkpoint.json sealing the head of `files`; `over` replaces fields (a `sig` given
    is kept, else the checkpoint is signed after the replacements)."""
    head = json.loads(files["head.json"])
    cp = {"v": 1, "seq": head["seq"], "file": head["file"], "last": head["last"], "time": TIME}
    cp["key_id"] = h(PUBLIC_RAW)
    sig = over.pop("sig", None)
    cp.update(over)
    cp["sig"] = sig or SIGNER.sign(b"piizone audit checkpoint v1\n" + canonical(cp)).hex()
    return {**files, CP: canonical(cp) + b"\n"}


def _spaced() -> Files:
    rec = record(1, prev=GENESIS)
    rec["mac"] = mac(rec)
    return build([json.dumps(rec, sort_keys=True).encode(), record(2)])


def _torn() -> Files:
    files = build([record(1), record(2)])
    return {**files, SEG1: files[SEG1][:-1]}


def _gap() -> Files:
    files = build([record(1)])
    return {**files, "audit-000003.jsonl": files[SEG1]}


def _head_spaced() -> Files:
    files = build([record(1)])
    return {**files, "head.json": json.dumps(json.loads(files["head.json"])).encode() + b"\n"}


def _without(files: Files, name: str) -> Files:
    return {k: v for k, v in files.items() if k != name}


def _cp_spaced() -> Files:
    files = sign(build([record(1)]))
    return {**files, CP: json.dumps(json.loads(files[CP])).encode() + b"\n"}


def _rotated() -> Files:
    # The chain does not restart in the next file: its first prev is H(last line of file 1).
    first = build([record(1), record(2, action="zone.create")], name=SEG1)
    last = json.loads(first["head.json"])["last"]
    second = build([record(3)], name="audit-000002.jsonl", prev=last)
    head = json.loads(second["head.json"])
    head.update(seq=3)
    head["mac"] = mac(head)
    return {SEG1: first[SEG1], **second, "head.json": canonical(head) + b"\n"}


Loc = tuple[str, int | None, str, int | None]
# (name, rule, files builder, (kind, seq, file, line), comment)
AUDIT_REJECT: list[tuple[str, str, Callable[[], Files], Loc, str]] = [
    ("line-without-lf", "R1", _torn, ("malformed", 2, SEG1, 2), "a torn last write"),
    ("not-json", "R2", lambda: build([record(1), b"not json", record(3)]),
     ("malformed", 2, SEG1, 2), ""),
    ("not-ascii", "R2", lambda: build([record(1), '{"seq":2,"zone":"\u00e9"}'.encode()]),
     ("malformed", 2, SEG1, 2), ""),
    ("version-2", "R3", lambda: build([record(1, v=2)]), ("malformed", 1, SEG1, 1), ""),
    ("missing-field", "R3",
     lambda: build([{k: v for k, v in record(1).items() if k != "zone"}]),
     ("malformed", 1, SEG1, 1), ""),
    ("extra-field", "R3", lambda: build([record(1, extra=1)]), ("malformed", 1, SEG1, 1), ""),
    ("bad-outcome", "R3", lambda: build([record(1, outcome="ok")]), ("malformed", 1, SEG1, 1),
     ""),
    ("bad-time", "R3", lambda: build([record(1, time="2025-01-31 08:00")]),
     ("malformed", 1, SEG1, 1), ""),
    ("seq-not-int", "R3", lambda: build([record(1), record("2")]), ("malformed", 2, SEG1, 2),
     ""),
    ("actor-shape", "R3", lambda: build([record(1, actor={"user": "ada"})]),
     ("malformed", 1, SEG1, 1), ""),
    ("non-canonical", "R4", _spaced, ("malformed", 1, SEG1, 1),
     "the MAC of the canonical form must not bless another spelling of the record"),
    ("bad-mac", "R5", lambda: build([record(1), record(2, mac="0" * 64), record(3)]),
     ("bad_mac", 2, SEG1, 2), ""),
    ("seq-repeats", "R6", lambda: build([record(1), record(2), record(2)]),
     ("inserted", 2, SEG1, 3), ""),
    ("seq-gap", "R7", lambda: build([record(1), record(2), record(4)]),
     ("deleted", 3, SEG1, 3), ""),
    ("seq-out-of-order", "R7", lambda: build([record(1), record(3), record(2)]),
     ("reordered", 3, SEG1, 2), ""),
    ("genesis-prev", "R8", lambda: build([record(1, prev="1" * 64)]), ("edited", 1, SEG1, 1),
     ""),
    ("broken-chain", "R8", lambda: build([record(1), record(2), record(3, prev="1" * 64)]),
     ("edited", 3, SEG1, 3), ""),
    ("missing-file", "R9", _gap, ("deleted", None, "audit-000002.jsonl", None), ""),
    ("head-missing", "R10", lambda: _without(build([record(1)]), "head.json"),
     ("deleted", None, "head.json", None), ""),
    ("head-bad-mac", "R11", lambda: build([record(1)], head={"mac": "0" * 64}),
     ("bad_mac", None, "head.json", None), ""),
    ("head-malformed", "R11", lambda: build([record(1)], head={"seq": "one"}),
     ("malformed", None, "head.json", None), ""),
    ("head-not-canonical", "R11", _head_spaced, ("malformed", None, "head.json", None), ""),
    ("head-ahead", "R12", lambda: build([record(1), record(2)], head={"seq": 3}),
     ("truncated", 3, SEG1, 3), ""),
    ("head-behind", "R12", lambda: build([record(1), record(2)], head={"seq": 1}),
     ("stale_head", 2, SEG1, 2), ""),
    ("head-hash", "R12", lambda: build([record(1), record(2)], head={"last": "1" * 64}),
     ("edited", 2, SEG1, 2), ""),
    ("log-wiped", "R13",
     lambda: _without(_without(sign(build([record(1), record(2)])), SEG1), "head.json"),
     ("deleted", None, SEG1, None), "the records and the head are gone, the checkpoint is not"),
    ("checkpoint-missing", "C1", lambda: _without(sign(build([record(1)])), CP),
     ("deleted", None, CP, None), ""),
    ("checkpoint-extra-field", "C2", lambda: sign(build([record(1)]), extra=1),
     ("malformed", None, CP, None), ""),
    ("checkpoint-seq-not-int", "C2", lambda: sign(build([record(1)]), seq="1"),
     ("malformed", None, CP, None), ""),
    ("checkpoint-short-sig", "C2", lambda: sign(build([record(1)]), sig="ab" * 32),
     ("malformed", None, CP, None), ""),
    ("checkpoint-not-canonical", "C2", _cp_spaced, ("malformed", None, CP, None), ""),
    ("checkpoint-bad-signature", "C3", lambda: sign(build([record(1)]), sig="0" * 128),
     ("bad_signature", None, CP, None), ""),
    ("checkpoint-other-key-id", "C3", lambda: sign(build([record(1)]), key_id="1" * 64),
     ("bad_signature", None, CP, None), ""),
    ("checkpoint-ahead", "C4", lambda: sign(build([record(1), record(2)]), seq=3),
     ("truncated", 3, SEG1, 3), ""),
    ("checkpoint-behind", "C4", lambda: sign(build([record(1), record(2)]), seq=1),
     ("stale_head", 2, SEG1, 2), ""),
    ("checkpoint-hash", "C4", lambda: sign(build([record(1), record(2)]), last="1" * 64),
     ("edited", 2, SEG1, 2), ""),
]  # fmt: skip

AUDIT_SUCCESS: list[tuple[str, Callable[[], Files], int, str]] = [
    ("three-records", lambda: build([record(1), record(2), record(3)]), 3, ""),
    (
        "varied-records",
        lambda: build(
            [
                record(1, action="init", zone=None, details={"home": "created"}),
                record(2, outcome="denied", details={"rows": 3, "nested": {"a": [1, "b"]}}),
                record(3, outcome="failure", details={"error": "caf\u00e9 \u2603"}),
            ]
        ),
        3,
        "a null zone, nested details, non-ASCII escaped as \\uXXXX",
    ),
    ("rotated", _rotated, 3, "three records over two files; the chain continues across them"),
    ("signed", lambda: sign(build([record(1), record(2)])), 2, "a checkpoint seals the head"),
]


def _loc(value: object) -> str:
    return "-" if value is None else str(value)


def _archive(files: Files) -> bytes:
    return b"".join(
        f"-- {name} {len(data)} --\n".encode() + data for name, data in sorted(files.items())
    )


def audit_vectors() -> dict[str, bytes]:
    out = {}
    for name, builder, count, comment in AUDIT_SUCCESS:
        files = builder()
        headers = {"expect": "success", "records": str(count), "key": KEY.hex()}
        if CP in files:
            headers["public-key"] = PUBLIC_RAW.hex()
        headers["comment"] = comment
        out[f"ok-{name}"] = _vector(headers, _archive(files))
    for name, rule, builder, (kind, seq, file, line), comment in AUDIT_REJECT:
        files = builder()
        headers = {
            "expect": kind,
            "rule": rule,
            "seq": _loc(seq),
            "file": file,
            "line": _loc(line),
            "key": KEY.hex(),
        }
        if rule.startswith("C") or CP in files:
            headers["public-key"] = PUBLIC_RAW.hex()
        headers["comment"] = comment
        out[f"{rule.lower()}-{name}"] = _vector(headers, _archive(files))
    return out


# --- output --------------------------------------------------------------------------------


def _vector(headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{k}: {v}" for k, v in headers.items() if v != ""]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    wanted = {OUT / "zone_format" / name: data for name, data in zone_vectors().items()} | {
        OUT / "audit" / name: data for name, data in audit_vectors().items()
    }
    present = {p for d in ("zone_format", "audit") for p in (OUT / d).glob("*")}
    stale = sorted(
        str(p.relative_to(ROOT))
        for p in present | set(wanted)
        if not p.exists() or p not in wanted or p.read_bytes() != wanted[p]
    )
    if args.check:
        for name in stale:
            print(f"differs from the script's output: {name}", file=sys.stderr)
        return 1 if stale else 0
    for path in present - set(wanted):
        path.unlink()
    for path, data in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(wanted)} vectors under {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
