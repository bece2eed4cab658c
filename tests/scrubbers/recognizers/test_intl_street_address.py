"""InternationalStreetAddressRecognizer: matches (with the expected spans) and non-matches."""

from __future__ import annotations

import time

import pytest

from piizone.scrubbers.recognizers.intl_street_address import InternationalStreetAddressRecognizer

REC = InternationalStreetAddressRecognizer()

CASES = [
    # Street type, name, house number; a locality after a comma.
    ("I live at Via Venezia 88, Roma.", ["Via Venezia 88, Roma"]),
    ("go to Avda. Rio Nalon 58 now", ["Avda. Rio Nalon 58"]),
    ("He lives on the north side of ul. Bruzdowa 124.", ["ul. Bruzdowa 124."]),
    ("Rue des Buissons 386 is closed", ["Rue des Buissons 386"]),
    # Suffix glued to the name, or the type after it.
    ("Hauptstraße 5", ["Hauptstraße 5"]),
    ("Rato lives on Eichendorffstr. 41 street.", ["Eichendorffstr. 41"]),
    (
        "Meet me at Mittlerer Thalackerweg 30, Türlen, Switzerland",
        ["Mittlerer Thalackerweg 30, Türlen, Switzerland"],
    ),
    ("Dobrovit lives at Síp utca 95., Dunakeszi", ["Síp utca 95., Dunakeszi"]),
    (
        "622 Hütteldorfer Strasse 40 Apt. 170, Conifer Grove, New Zealand 52609.",
        ["622 Hütteldorfer Strasse 40 Apt. 170, Conifer Grove, New Zealand 52609"],
    ),
    # Units and locality lines of a multi-line address.
    (
        "here: Koskikatu 25\n Apt. 320\n ESPOO\n Finland, and",
        ["Koskikatu 25\n Apt. 320\n ESPOO\n Finland"],
    ),
    (
        "Magrethevej 224\nKøbenhavn K\n, SJ\n 28826\n0326 office",
        ["Magrethevej 224\nKøbenhavn K\n, SJ\n 28826"],
    ),
    # House number first (French), PO and military boxes.
    ("Meet at the corner of 20 Rue Hsine Eloued and Jørgensen Station", ["20 Rue Hsine Eloued"]),
    ("enter on 90 Place du Jeu de Paume.", ["90 Place du Jeu de Paume"]),
    ("mail Postfach 1234 please", ["Postfach 1234"]),
    ("meet at PSC 8378, Box 4017 APO AP 05968 after", ["PSC 8378, Box 4017 APO AP 05968"]),
    ("send to Unit 1315 Box 7800\nDPO AP 97167?", ["Unit 1315 Box 7800\nDPO AP 97167"]),
    ("USCGC Larsen\nFPO AP 89589", ["USCGC Larsen\nFPO AP 89589"]),
    # A cue, then a name and a number with no street word.
    ("Tadanori lives at Ilichova 77, Ljubljana", ["Ilichova 77, Ljubljana"]),
    # Labelled blocks and a unit on its own line.
    (
        "Billing address: Lucas Himmel\n  726 Holzschachen 70 Apt. 739\n  OTROUZA\n  KA\n\nThanks",
        ["Lucas Himmel\n  726 Holzschachen 70 Apt. 739\n  OTROUZA\n  KA"],
    ),
    ("Address:\nElla and Via Guantai Nuovi 58.\n", ["Ella and Via Guantai Nuovi 58."]),
    ("Jan Novak\nApt. 146\nSan Diego", ["Apt. 146"]),
    # Non-matches: street words in prose, all-caps notes, quantities, tables, labels.
    ("sent via email 2 days ago", []),
    ("Rue said 3 things", []),
    ("the Platz was full of 300 people", []),
    ("we met in Platz 3 times", []),
    ("O2 VIA NC 2L and 45 CC HUO VIA FOLEY 3", []),
    ("IP address: 10.0.0.1", []),
    ("Address: none given", []),
    ("In 1996 Hamburg 2 Bayern 1", []),
    ("Queens Park Rangers 3 2 1 0 5 3 7", []),
    ("7. Tanya Dubnicoff ( Canada )", []),
    ("Dr. Weg 5 mg", []),
    ("moved to Berlin 3 years ago", []),
    ("sent to Anna 2 copies", []),
    ("it's flat dry\nyeah", []),
    ("Chapter 5 of the Calle book", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_intl_street_address(text, expected):
    found = [text[r.start : r.end] for r in REC.analyze(text, ["STREET_ADDRESS"])]
    assert found == expected


def test_a_megabyte_line_is_linear():
    # Each number reads a bounded window: dense numbers and names stay ~1 s a megabyte.
    text = ("1 " * 150_000) + ("Via Roma 5, " * 30_000) + ("Abc Def " * 40_000) + " " * 100_000
    started = time.process_time()
    REC.analyze(text, ["STREET_ADDRESS"])
    assert time.process_time() - started < 10
