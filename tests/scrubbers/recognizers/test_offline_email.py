"""OfflineEmailRecognizer validates domains with the bundled suffix list, never the network."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers import recognizer_factory
from piizone.scrubbers.recognizers.offline_email import OfflineEmailRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", ["jane.doe@example.com"]),
        ("mail ops@mail.example.co.uk", ["ops@mail.example.co.uk"]),
        ("not an email: a@b.notarealtld", []),
        ("no email here", []),
    ],
)
def test_offline_email(no_network, text, expected):
    results = OfflineEmailRecognizer().analyze(text, ["EMAIL_ADDRESS"], None)
    assert [text[r.start : r.end] for r in results] == expected


def test_presidio_name_means_offline_variant():
    assert isinstance(recognizer_factory("EmailRecognizer")("en"), OfflineEmailRecognizer)
