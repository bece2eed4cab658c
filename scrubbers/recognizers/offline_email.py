"""Presidio's e-mail recognizer, validated against the bundled public-suffix snapshot only."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# tldextract's default extractor downloads the public suffix list on first use (tldextract
# issue #332). piizone runs in air-gapped zones: no URLs, no cache dir, the snapshot shipped in
# the wheel only.
_OFFLINE_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer whose validate_result never touches the network or the disk cache."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_language=supported_language, name="OfflineEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        return _OFFLINE_EXTRACT(pattern_text).fqdn != ""
