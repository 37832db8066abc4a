"""String `pattern` constraints checked by compiled code (include/cz_pattern.c).

The C matcher must give exactly `re.search(pattern, s) is not None` for the
patterns it accepts, refuse everything outside its subset, and answer "can't
decide" (None from the test hook) only where Python's Unicode classes would be
needed; models and parameters then fall back to `re`.
"""
import random
import re
from typing import Annotated, Optional, Union

import msgspec
import pytest

from catzilla.models import BaseModel, Field, ValidationError, _pattern_search, codec, json_schema

# unicode classes (\d \w \s and negations) may answer None for code points >= 128
_UNICODE_CLASS = re.compile(r"\\[dwsDWS]")

HAND = [
    r"^[A-Z]-[0-9]+$", r"^[^@\s]+@[^@\s]+$", r"abc", r"", r"^", r"$", r"\A", r"\Z", r"^$", r"\A\Z",
    r"a*", r"a+", r"a?", r"a*?", r"a+?", r"a??", r"a{3}", r"a{2,}", r"a{,2}", r"a{1,3}", r"a{0}",
    r"a{2,3}?", r"^a{2,3}$", r"x.y", r".", r"^.$", r"^.*$", r"^.+$", r"\n", r"^\n$", r"a$", r"a\Z",
    r"^a\n$", r"[abc]", r"[^abc]", r"[a-z]+", r"[^a-z]", r"[]a]", r"[^]a]", r"[a-]", r"[-a]",
    r"[\]]", r"[\\]", r"\\", r"\.", r"\-", r"\$", r"\^", r"\*", r"\{", r"}", r"]", r"a}",
    r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"^\d+$", r"^\w+$", r"^\s*$", r"[\d]", r"[^\d]",
    r"[\w.-]+", r"[^\W]", r"[\s\d]", r"\t\r\f\v\a", r"[\b]", r"\x41", r"\u00e9", r"\U0001F600",
    r"[\x00-\x7f]+", r"[\u0100-\uffff]", r"[^\u0000-\u007f]", r"é+", r"^é$", r"[à-ÿ]+", r"😀",
    r"^[a-z0-9_]{3,16}$", r"^\+?[0-9]{7,15}$", r"^[0-9a-f]{8}-[0-9a-f]{4}$", r"^\S+$", r"^[^\n]*$",
    r"a.c$", r"^ab*c", r"b*$", r"$a", r"a^", r"\Za", r"a\A", r"[$^]", r"[.]", r"[*+?{}]",
]

REFUSED = [
    r"(a)", r"a|b", r"(?i)a", r"(?:a)", r"(a)\1", r"\b", r"\B", r"a{2", r"a{x}", r"a{,}",
    r"a++", r"a*+", r"[[a]", r"[--a]", r"[a&&b]", r"[a~~b]", r"[a||b]", r"\0", r"\01",
    r"(?=a)", r"(?<=a)b", r"a{0,99999}", r"[a-z]{0,3000}", r"\N{DIGIT ONE}",
]

INVALID = [r"*a", r"{1}", r"[a--b]", r"\z", r"\p", r"^*", r"$+", r"\A?", r"a**", r"[a", r"[z-a]", r"a{3,2}", r"\q", r"[\d-z]", "\\"]

ATOMS = ["a", "b", "-", "@", "é", r"\n", ".", r"\.", "[a-c]", "[^ab]", r"[^@\s]", "[0-9]", r"\d", r"\w",
         r"\s", r"\D", r"\W", r"\S", "[é-ü]", r"[\d\s]", "[-@]", r"\x85", "٣"]
QUANTS = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "{,2}", "*?", "+?", "{0,2}?"]
CHARS = ["a", "b", "c", "-", "@", "\n", "0", "5", " ", "_", ".", "x", "é", "٣", "\x85", "\u2003", "Ω",
         "\U0001F600", "\x1c", "\t", "\ud800"]


def _generated(n, seed, quants=QUANTS):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        if rnd.random() < 0.4:
            parts.append(rnd.choice(["^", r"\A"]))
        for _ in range(rnd.randint(1, 5)):
            parts.append(rnd.choice(ATOMS) + rnd.choice(quants))
        if rnd.random() < 0.4:
            parts.append(rnd.choice(["$", r"\Z"]))
        out.append("".join(parts))
    return out


def _subjects(seed, n=60):
    rnd = random.Random(seed)
    fixed = ["", "\n", "a", "a\n", "a\n\n", "\na", "abc", "A-100", "A-100\n", "a-1", "ada@example.com",
             "a b@c", "x@y\n", "aaaa", "b", "é", "٣", "\x85", "abcé", "a\x85", "😀", "0", "00", " ",
             "\u2003", "abc\n", "-@-", "aé@b", "ü"]
    return fixed + ["".join(rnd.choice(CHARS) for _ in range(rnd.randint(0, 8))) for _ in range(n)]


def _agree(pattern, subjects):
    compiled = re.compile(pattern)
    for s in subjects:
        got = _pattern_search(pattern, s)
        want = compiled.search(s) is not None
        if got is None:
            # only a Unicode class meeting a code point >= 128 may need re
            assert _UNICODE_CLASS.search(pattern) and any(ord(ch) >= 128 for ch in s), (pattern, s)
            continue
        assert got is want, (pattern, s, got, want)


@pytest.mark.parametrize("pattern", HAND)
def test_hand_written_patterns_agree_with_re(pattern):
    assert _pattern_search(pattern, "") is not None or _UNICODE_CLASS.search(pattern)
    _agree(pattern, _subjects(hash(pattern) & 0xffff))


def test_generated_patterns_agree_with_re():
    patterns = _generated(400, 21)
    subjects = _subjects(7, 40)
    accepted = 0
    for p in patterns:
        if _pattern_search(p, "a") is None and not _UNICODE_CLASS.search(p):
            pytest.fail(f"a pattern of the subset was refused: {p!r}")
        accepted += 1
        _agree(p, subjects)
    assert accepted == len(patterns)


def test_generated_large_programs_agree_with_re():
    # over 64 NFA states: run by the Pike VM rather than the bit-parallel loop
    patterns = _generated(60, 5, ["{0,40}", "{30,}", "{33}", "{2,35}?", "*"])
    subjects = _subjects(3, 20) + ["a" * 33, "a" * 40 + "b" * 35, "-" * 70 + "\n", "@5" * 50, "é" * 40]
    for p in patterns:
        _agree(p, subjects)


def test_every_code_point_kind():
    # the three PEP 393 storage widths of the same pattern and subject shapes
    for s, want in [("xé-1", True), ("xĀ-1", True), ("x😀-1", True), ("é-", False)]:
        assert _pattern_search(r".-[0-9]+$", s) is want
    assert _pattern_search("Ā+", "abĀĀ") is True
    assert _pattern_search("😀{2}", "😀a😀") is False
    assert _pattern_search("😀{2}", "a😀😀") is True


@pytest.mark.filterwarnings("ignore::FutureWarning")      # re's "possible nested set" and the like
@pytest.mark.parametrize("pattern", REFUSED)
def test_outside_the_subset_is_refused(pattern):
    re.compile(pattern)                       # valid for re: it keeps answering
    assert _pattern_search(pattern, "a") is None


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_patterns_raise_like_re(pattern):
    with pytest.raises(re.error):
        re.compile(pattern)
    with pytest.raises(re.error):
        _pattern_search(pattern, "a")


def test_unicode_classes_are_left_to_re():
    assert _pattern_search(r"^\d+$", "١٢٣") is None           # Arabic-Indic digits: re says yes
    assert _pattern_search(r"^\s$", "\x85") is None
    assert _pattern_search(r"^\w+$", "é") is None
    assert _pattern_search(r"^[é\d]+$", "é1") is True          # decided by the literal range
    assert _pattern_search(r"^\s$", "\x1c") is True            # str.isspace() for ASCII


def test_large_bounds_and_long_subjects_complete():
    # over 64 NFA states: the Pike VM; bounded by len(subject) * len(program)
    p = r"[a-z]{0,1000}b"
    assert _pattern_search(p, "a" * 5000) is False
    assert _pattern_search(p, "a" * 5000 + "b") is True
    assert _pattern_search(r"^a{100}$", "a" * 100) is True
    assert _pattern_search(r"^a{100}$", "a" * 101) is False
    long = "x" * 200_000
    for p in [r"a*a*a*a*a*b", r"^.*.*.*.*z$", r"[^@\s]+@[^@\s]+", r"x+y", r"\d+\s\w+", r"x*x*x*x*y"]:
        assert _pattern_search(p, long) is False            # (re backtracks for ever on some of these)
    assert _pattern_search(r"^.*.*.*.*x$", long) is True
    _agree(r"[ab]{0,200}c{2,70}$", ["ab" * 150 + "c" * 70, "c" * 71, "ab" * 99 + "c", "c\n" * 2])


# -- models: msgspec no longer sees compiled patterns; the codec checks them ------------------------

class Customer(BaseModel):
    id: int = Field(ge=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", min_length=3)


class Line(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]-[0-9]+$")
    note: Optional[str] = Field(None, pattern=r"^[a-z ]*$")


class Order(BaseModel):
    customer: Customer
    items: list[Line]
    by_code: dict[str, Line] = {}
    either: Union[Line, int] = 0
    grouped: Optional[str] = Field(None, pattern=r"^(a|b)$")      # outside the subset: msgspec's re


def test_msgspec_gets_no_compiled_pattern():
    info = msgspec.inspect.type_info(Line)
    sku = info.fields[0].type
    assert type(sku) is msgspec.inspect.Metadata and sku.type.pattern is None
    grouped = [f for f in msgspec.inspect.type_info(Order).fields if f.name == "grouped"][0].type
    assert "(a|b)" in repr(grouped)


def test_valid_body_decodes():
    body = (b'{"customer": {"id": 1, "email": "a@b"}, "items": [{"sku": "A-1"}, {"sku": "B-22", "note": "ok"}],'
            b' "by_code": {"x": {"sku": "C-3"}}, "either": {"sku": "D-4"}, "grouped": "a"}')
    order = codec(Order).decode_json(body)
    assert order.items[1].sku == "B-22" and order.either.sku == "D-4"
    assert Order.model_validate_json(body) == order
    assert Order.model_validate(msgspec.json.decode(body)) == order


@pytest.mark.parametrize("body, loc, pattern", [
    (b'{"customer": {"id": 1, "email": "a b@c"}, "items": []}', ("customer", "email"), r"^[^@\s]+@[^@\s]+$"),
    (b'{"customer": {"id": 1, "email": "a@b"}, "items": [{"sku": "A-1"}, {"sku": "a-1"}]}',
     ("items", 1, "sku"), r"^[A-Z]-[0-9]+$"),
    (b'{"customer": {"id": 1, "email": "a@b"}, "items": [{"sku": "A-1", "note": "NO"}]}',
     ("items", 0, "note"), r"^[a-z ]*$"),
    (b'{"customer": {"id": 1, "email": "a@b"}, "items": [], "by_code": {"k": {"sku": "A-1\\n\\n"}}}',
     ("by_code", "k", "sku"), r"^[A-Z]-[0-9]+$"),
    (b'{"customer": {"id": 1, "email": "a@b"}, "items": [], "either": {"sku": "x"}}',
     ("either", "Line", "sku"), r"^[A-Z]-[0-9]+$"),
    (b'{"customer": {"id": 1, "email": "a@b"}, "items": [], "grouped": "c"}', ("grouped",), r"^(a|b)$"),
])
def test_mismatch_is_one_error_in_pydantic_shape(body, loc, pattern):
    for run in (codec(Order).decode_json, lambda b: Order.model_validate(msgspec.json.decode(b))):
        with pytest.raises(ValidationError) as info:
            run(body)
        # (a union also reports its other members' errors, as pydantic does)
        [err] = [e for e in info.value.errors() if e["type"] == "string_pattern_mismatch"]
        assert tuple(err["loc"]) == loc
        assert err["msg"] == f"String should match pattern '{pattern}'" and err["ctx"] == {"pattern": pattern}


def test_every_error_is_collected_with_the_pattern_ones():
    body = (b'{"customer": {"id": 0, "email": "@"}, "items": [{"sku": "A-1"}, {"sku": "bad"}, {"sku": 5}]}')
    with pytest.raises(ValidationError) as info:
        codec(Order).decode_json(body)
    got = [(e["type"], tuple(e["loc"])) for e in info.value.errors()]
    assert got == [("greater_than_equal", ("customer", "id")), ("string_too_short", ("customer", "email")),
                   ("string_pattern_mismatch", ("customer", "email")),
                   ("string_pattern_mismatch", ("items", 1, "sku")), ("string_type", ("items", 2, "sku"))]


def test_non_ascii_values_fall_back_to_re():
    ok = codec(Customer).decode_json('{"id": 1, "email": "adé@exämple.com"}'.encode())
    assert ok.email == "adé@exämple.com"
    with pytest.raises(ValidationError):                  # U+0085 is \s for Python's re
        codec(Customer).decode_json('{"id": 1, "email": "a\u0085b@c"}'.encode())


def test_schema_still_shows_the_pattern():
    [schema], components = json_schema([Order])
    assert components["Line"]["properties"]["sku"]["pattern"] == r"^[A-Z]-[0-9]+$"
    assert components["Customer"]["properties"]["email"] == {
        "type": "string", "minLength": 3, "pattern": r"^[^@\s]+@[^@\s]+$"}
    note = components["Line"]["properties"]["note"]
    assert {"type": "string", "pattern": r"^[a-z ]*$"} in note["anyOf"]
    assert Line.model_json_schema()["$defs"]["Line"]["properties"]["sku"]["pattern"] == r"^[A-Z]-[0-9]+$" \
        if "$defs" in Line.model_json_schema() else \
        Line.model_json_schema()["properties"]["sku"]["pattern"] == r"^[A-Z]-[0-9]+$"


class Node(BaseModel):
    name: str = Field(pattern=r"^[a-z]+$")
    children: list["Node"] = []


def test_list_of_constrained_strings_and_recursion():
    good = b'{"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}'
    assert codec(Node).decode_json(good).children[0].children[0].name == "c"
    with pytest.raises(ValidationError) as info:
        codec(Node).decode_json(b'{"name": "a", "children": [{"name": "b", "children": [{"name": "C"}]}]}')
    assert [tuple(e["loc"]) for e in info.value.errors()] == [("children", 0, "children", 0, "name")]
    tags = codec(list[Annotated[str, msgspec.Meta(pattern=r"^[a-z]+$")]])   # a plain msgspec pattern: re
    assert tags.decode_json(b'["a", "b"]') == ["a", "b"]
    with pytest.raises(ValidationError):
        tags.decode_json(b'["a", "B"]')


# -- parameters: scalar query/header patterns and embedded body fields ---------------------------------

def test_parameter_patterns_over_the_server():
    from catzilla import Body, Catzilla, Header, Query
    from catzilla.testing import TestClient

    app = Catzilla()

    @app.get("/code")
    def code(request, c: str = Query(pattern=r"^[a-z]+\d?$"), x_tag: Optional[str] = Header(None, pattern=r"^\S+$")):
        return {"c": c, "tag": x_tag}

    @app.post("/label")
    def label(name: str = Body(pattern=r"^[A-Z][a-z]*$"), n: int = Body(1)):
        return {"name": name, "n": n}

    with TestClient(app) as client:
        assert client.get("/code?c=abc1").json() == {"c": "abc1", "tag": None}
        assert client.get("/code?c=abc%0A").status_code == 200                 # $ before a final newline
        r = client.get("/code?c=ab1c", headers={"x-tag": "a b"})
        assert r.status_code == 422
        assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
            ("string_pattern_mismatch", ["query", "c"]), ("string_pattern_mismatch", ["header", "x-tag"])]
        assert client.get("/code?c=abc%D9%A3").status_code == 200              # ٣ is \d for re
        assert client.post("/label", json={"name": "Ada", "n": 2}).json() == {"name": "Ada", "n": 2}
        r = client.post("/label", json={"name": "ada"})
        assert r.status_code == 422
        [err] = r.json()["detail"]
        assert err["loc"] == ["body", "name"] and err["ctx"] == {"pattern": r"^[A-Z][a-z]*$"}
