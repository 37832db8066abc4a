"""Accept-Encoding negotiation (catzilla/negotiate.py, RFC 9110 §12.5.3)."""
import pytest

from catzilla.negotiate import accept_encoding

BR_GZIP = ["br", "gzip"]          # the server's preference: br first

TABLE = [
    # header                                 available        expected
    (None,                                   BR_GZIP,         None),      # no header: identity
    ("",                                     BR_GZIP,         None),      # empty: no coding wanted
    ("   ",                                  BR_GZIP,         None),
    ("gzip",                                 BR_GZIP,         "gzip"),
    ("br",                                   BR_GZIP,         "br"),
    ("gzip, br",                             BR_GZIP,         "br"),      # tie: server order
    ("br, gzip",                             ["gzip", "br"],  "gzip"),    # tie: server order
    ("gzip;q=1, br;q=0.9",                   BR_GZIP,         "gzip"),    # weight beats order
    ("gzip;q=0.5, br;q=0.501",               BR_GZIP,         "br"),
    ("gzip;q=0",                             BR_GZIP,         None),      # q=0: not acceptable
    ("br;q=0, gzip",                         BR_GZIP,         "gzip"),
    ("br;q=0.000, gzip;q=0.001",             BR_GZIP,         "gzip"),
    ("identity",                             BR_GZIP,         None),      # only identity named
    ("identity;q=0",                         BR_GZIP,         None),      # nothing else acceptable
    ("identity;q=0, gzip",                   BR_GZIP,         "gzip"),
    ("gzip;q=0.5, identity",                 BR_GZIP,         None),      # identity weighs more
    ("gzip;q=0.5, identity;q=0.5",           BR_GZIP,         "gzip"),    # tie with identity: coding
    ("*",                                    BR_GZIP,         "br"),
    ("*;q=0",                                BR_GZIP,         None),
    ("*;q=0.5, gzip",                        BR_GZIP,         "gzip"),    # listed gzip 1 > * 0.5
    ("*, br;q=0",                            BR_GZIP,         "gzip"),    # * does not undo br;q=0
    ("gzip;q=0, *",                          BR_GZIP,         "br"),
    ("*;q=0.8, identity",                    BR_GZIP,         None),      # identity 1 > * 0.8
    ("*;q=0.8",                              BR_GZIP,         "br"),      # identity through * too: tie
    ("*;q=0.3, identity;q=0.1",              BR_GZIP,         "br"),
    ("deflate, compress, zstd",              BR_GZIP,         None),      # unknown / unavailable
    ("zstd, gzip;q=0.1",                     BR_GZIP,         "gzip"),
    ("GZIP",                                 BR_GZIP,         "gzip"),    # case-insensitive
    ("Br;Q=0.2, GZip;q=0.1",                 BR_GZIP,         "br"),
    ("  gzip  ;  q=0.4 ,br ; q=0.3 ",        BR_GZIP,         "gzip"),    # whitespace
    ("gzip,,, ,br;q=0.2",                    BR_GZIP,         "gzip"),    # empty list elements
    ("x-gzip",                               BR_GZIP,         "gzip"),    # alias
    ("x-gzip;q=0, br;q=0.1",                 BR_GZIP,         "br"),
    ("gzip;q=2",                             BR_GZIP,         None),      # bad q: element ignored
    ("gzip;q=1.001, br;q=0.1",               BR_GZIP,         "br"),
    ("gzip;q=0.1234, br;q=0.1",              BR_GZIP,         "br"),      # 4 decimals
    ("gzip;q=-1",                            BR_GZIP,         None),
    ("gzip;q=abc, br",                       BR_GZIP,         "br"),
    ("gzip;q=, br;q=0.5",                    BR_GZIP,         "br"),
    ("gzip;q, br;q=0.5",                     BR_GZIP,         "br"),
    ("gzip;q=.5",                            BR_GZIP,         None),
    ("gzip;q=0.5e1",                         BR_GZIP,         None),
    ('gzip;q="0.5"',                         BR_GZIP,         None),
    ("br;q=0.٥",                             BR_GZIP,         None),      # not ASCII digits
    ("gzip;q=1., br;q=0.9",                  BR_GZIP,         "gzip"),    # "1." is a qvalue
    ("gzip;q=1.000, br;q=0.999",             BR_GZIP,         "gzip"),
    ("gzip;q=0., br;q=0.1",                  BR_GZIP,         "br"),      # "0." is 0
    ("gzip;q=0.5;level=9",                   BR_GZIP,         "gzip"),    # other parameters
    ("gzip",                                 [],              None),
    ("gzip",                                 ["GZip"],        "GZip"),    # server names as given
]


@pytest.mark.parametrize("header, available, expected", TABLE)
def test_negotiation_table(header, available, expected):
    assert accept_encoding(header, available) == expected


def test_first_listing_of_a_coding_counts():
    assert accept_encoding("gzip;q=0, gzip", ["gzip"]) is None
    assert accept_encoding("gzip, gzip;q=0", ["gzip"]) == "gzip"


def test_available_sequence_is_not_changed():
    available = ("br", "gzip")
    assert accept_encoding("gzip, br;q=0.5", available) == "gzip"
    assert available == ("br", "gzip")
