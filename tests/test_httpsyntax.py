"""The RFC 9110 field-value grammar (catzilla/_core/httpsyntax.pyx): tokens,
comma-separated lists, quoted strings and parameters, the one home every header
parser uses."""
import pytest

from catzilla._core.httpsyntax import is_token, parse_params, split_list, unquote


@pytest.mark.parametrize("text", ["GET", "x-request-id", "!#$%&'*+-.^_`|~09azAZ", "a"])
def test_tokens(text):
    assert is_token(text)


@pytest.mark.parametrize("text", ["", " a", "a b", "a,b", "a;b", 'a"', "a=b", "(a)", "a/b", "a\tb",
                                  "caf\u00e9", "\u0130", "a\x7f", "a\x00", b"abc", None, 3])
def test_not_tokens(text):
    assert not is_token(text)


@pytest.mark.parametrize("value, elements", [
    ("a, b,c", ["a", "b", "c"]),
    ("", []),
    (" , ,, \t", []),                                      # empty elements are dropped (§5.6.1)
    ("a,,b, ,c,", ["a", "b", "c"]),
    ("  a \t,\tb  ", ["a", "b"]),                           # OWS trimmed, inner space kept
    ("a b, c", ["a b", "c"]),
    ('x="a,b", y', ['x="a,b"', "y"]),                       # a quoted comma does not split
    ('x="a\\",b", y', ['x="a\\",b"', "y"]),                 # nor does an escaped quote end the string
    ('x="a,b, y', ['x="a,b, y']),                           # unterminated: the rest is one element
    ('"a\x01,b", c', ['"a\x01,b", c']),                     # a control character: malformed like unterminated
    (["a, b", "", "c"], ["a", "b", "c"]),                   # field lines form one list (§5.3)
    (None, []),
])
def test_split_list(value, elements):
    assert split_list(value) == elements


def test_split_list_types():
    with pytest.raises(TypeError):
        split_list(["a", 1])


@pytest.mark.parametrize("value, text", [
    ("abc", "abc"),
    ('"abc"', "abc"),
    ('""', ""),
    ('"a, b; c=d"', "a, b; c=d"),
    (r'"a\"b"', 'a"b'),
    (r'"\\"', "\\"),
    (r'"\1\9\2"', "192"),
    ('"tab\there"', "tab\there"),
    ('"caf\u00e9"', "caf\u00e9"),                            # obs-text
])
def test_unquote(value, text):
    assert unquote(value) == text


@pytest.mark.parametrize("value", ['"abc', '"abc"x', '"a\\"', '"a\x01b"', '"a\x7f"', "", "a b", "a,b", '"'])
def test_unquote_refuses(value):
    assert unquote(value) is None


@pytest.mark.parametrize("element, pairs", [
    ("gzip", [("gzip", None)]),
    ("gzip;q=0.5", [("gzip", None), ("q", "0.5")]),
    ("  Br ; Q=0.2 ", [("br", None), ("q", "0.2")]),          # names lower-cased, OWS around ";"
    ("a;b=1;c", [("a", None), ("b", "1"), ("c", None)]),
    ('a; b="x;y,z"', [("a", None), ("b", '"x;y,z"')]),       # values as written: unquote() them
    ('a; b = "1\\2"', [("a", None), ("b", '"1\\2"')]),       # BWS around "="
    ("a;;b", [("a", None), ("b", None)]),                     # empty parameters (§5.6.6)
    (";for=x", [("for", "x")]),
    ("for=x;", [("for", "x")]),
    ("", []),
])
def test_parse_params(element, pairs):
    assert parse_params(element) == pairs


@pytest.mark.parametrize("element", [
    "a b", "a;b c", "=x", "a;=x", "a;b=", "a;b= ", 'a;b="x', 'a;b="x"y', "a;b=x y", "a;b=[x]",
    "a;b=x,y", 'a;b="\x01"', "caf\u00e9", "a;b=(x)",
])
def test_parse_params_refuses(element):
    assert parse_params(element) is None


def test_parse_params_without_empty_parameters():
    assert parse_params("a; b", False) == [("a", None), ("b", None)]
    for element in ("a;;b", "a; ; b", "a;", ";a"):
        assert parse_params(element, False) is None, element
        assert parse_params(element) is not None, element


def test_split_then_parse():
    elements = [parse_params(e) for e in split_list('for=1.2.3.4;proto=https, for="[::1]:80", , x="a,b"')]
    assert elements == [[("for", "1.2.3.4"), ("proto", "https")], [("for", '"[::1]:80"')], [("x", '"a,b"')]]
    assert [unquote(v) for _, v in elements[1] + elements[2]] == ["[::1]:80", "a,b"]
