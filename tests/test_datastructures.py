"""Tests of catzilla.datastructures: Headers, MutableHeaders, MultiDict/QueryParams/FormData, UploadFile."""
import gc
import os
import pickle
from collections.abc import Mapping

import pytest

from catzilla.datastructures import (
    INDEX_AFTER_SCANS, INDEX_MIN_ENTRIES, FormData, Headers, MultiDict, MutableHeaders, QueryParams, UploadFile,
)

# ------------------------------------------------------------------ Headers


def test_headers_case_insensitive_lookup():
    h = Headers({"Content-Type": "text/html", "X-Request-ID": "abc"})
    for name in ("content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"):
        assert h[name] == "text/html"
        assert h.get(name) == "text/html"
        assert name in h
        assert h.getlist(name) == ["text/html"]
    assert h["x-request-id"] == "abc"


def test_headers_names_are_lowercased_values_untouched():
    h = Headers([("X-Mixed", "Value With CAPS "), ("HOST", "Example.COM")])
    assert h.raw == [("x-mixed", "Value With CAPS "), ("host", "Example.COM")]
    assert h.keys() == ["x-mixed", "host"]


def test_headers_multi_values_first_wins_and_order_kept():
    h = Headers([("Set-Cookie", "a=1"), ("Vary", "Accept"), ("set-cookie", "b=2"), ("SET-COOKIE", "c=3")])
    assert h["set-cookie"] == "a=1"
    assert h.get("Set-Cookie") == "a=1"
    assert h.getlist("set-cookie") == ["a=1", "b=2", "c=3"]
    assert h.keys() == ["set-cookie", "vary"]
    assert list(h) == ["set-cookie", "vary"]
    assert len(h) == 2  # distinct names
    assert h.values() == ["a=1", "Accept", "b=2", "c=3"]
    assert h.items() == [("set-cookie", "a=1"), ("vary", "Accept"), ("set-cookie", "b=2"),
                         ("set-cookie", "c=3")]


def test_headers_dict_values_may_be_lists():
    h = Headers({"Accept": ["text/html", "application/json"], "Host": "x"})
    assert h.getlist("accept") == ["text/html", "application/json"]
    assert h["accept"] == "text/html"
    assert h.items() == [("accept", "text/html"), ("accept", "application/json"), ("host", "x")]


def test_headers_missing():
    h = Headers({"a": "1"})
    with pytest.raises(KeyError):
        h["b"]
    assert h.get("b") is None
    assert h.get("b", "dflt") == "dflt"
    assert h.getlist("b") == []
    assert "b" not in h


def test_headers_non_str_keys():
    h = Headers({"a": "1"})
    with pytest.raises(KeyError):
        h[b"a"]
    with pytest.raises(KeyError):
        h[1]
    assert b"a" not in h
    assert None not in h
    assert h.get(b"a", "d") == "d"
    assert h.getlist(b"a") == []


def test_headers_empty():
    for h in (Headers(), Headers(None), Headers({}), Headers([])):
        assert len(h) == 0
        assert not h
        assert list(h) == []
        assert h.items() == []
        assert h.get("x") is None
        assert h == Headers()


def test_headers_from_headers_copies():
    a = Headers([("a", "1"), ("a", "2")])
    b = Headers(a)
    assert b == a
    assert b.raw == a.raw
    assert b is not a


def test_headers_raw_and_items_are_copies():
    h = Headers({"a": "1"})
    h.raw.append(("b", "2"))
    h.items().append(("b", "2"))
    h.keys().append("b")
    assert "b" not in h
    assert len(h) == 1


def test_headers_equality():
    a = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    assert a == Headers([("b", "2"), ("a", "1"), ("a", "3")])        # order across names irrelevant
    assert a != Headers([("b", "2"), ("a", "3"), ("a", "1")])        # order within a name matters
    assert a != Headers([("a", "1"), ("b", "2")])
    assert a == [("a", "1"), ("b", "2"), ("A", "3")]
    assert Headers({"X": "1"}) == {"x": "1"}
    assert Headers({"X": "1"}) != {"x": "2"}
    assert Headers({"X": "1"}) != 42
    assert not (Headers({"X": "1"}) == "x")
    assert Headers({"X": "1"}) != [("x", 1)]  # invalid pairs compare unequal, no exception


def test_headers_unhashable_repr_pickle_mapping():
    h = Headers([("a", "1"), ("a", "2")])
    with pytest.raises(TypeError):
        hash(h)
    assert repr(h) == "Headers([('a', '1'), ('a', '2')])"
    assert pickle.loads(pickle.dumps(h)) == h
    assert pickle.loads(pickle.dumps(h)).getlist("a") == ["1", "2"]
    assert isinstance(h, Mapping)
    assert dict(h) == {"a": "1"}


def test_headers_constructor_type_errors():
    with pytest.raises(TypeError):
        Headers({"a": 1})
    with pytest.raises(TypeError):
        Headers({b"a": "1"})
    with pytest.raises(TypeError):
        Headers({"a": ["1", 2]})
    with pytest.raises(TypeError):
        Headers("a: 1")
    with pytest.raises(TypeError):
        Headers(b"a")
    with pytest.raises(ValueError):
        Headers([("a", "1", "2")])


def test_headers_unicode_names():
    h = Headers({"X-Ärger": "ö", "X-ÉTÉ": "summer"})
    assert h["x-ärger"] == "ö"
    assert h["X-ÄRGER"] == "ö"
    assert h["x-été"] == "summer"


def test_headers_long_list_index_path_matches_scan():
    n = INDEX_MIN_ENTRIES * 3
    pairs = [(f"X-H{i % (n // 2)}", str(i)) for i in range(n)]
    h = Headers(pairs)
    expected = {}
    for k, v in pairs:
        expected.setdefault(k.lower(), []).append(v)
    # enough lookups to cross INDEX_AFTER_SCANS, checking answers before and after
    for rnd in range(2):
        for k, vals in expected.items():
            assert h[k.upper()] == vals[0]
            assert h.getlist(k) == vals
            assert k in h
        assert h.get("absent") is None
        assert h.getlist("absent") == []
        assert "absent" not in h
    assert INDEX_AFTER_SCANS < len(expected) * 2
    assert len(h) == n // 2


def test_reinit_drops_cached_views():
    pairs = [(f"k{i}", "v") for i in range(INDEX_MIN_ENTRIES * 2)]
    h = Headers(pairs)
    m = MultiDict(pairs)
    for _ in range(INDEX_AFTER_SCANS + 2):  # build the names/index caches
        assert h["k0"] == "v" and m["k0"] == "v"
    assert len(h) == len(m) == len(pairs)
    h.__init__({"other": "1"})
    m.__init__({"other": "1"})
    for obj in (h, m):
        assert "k0" not in obj
        assert obj.keys() == ["other"] and len(obj) == 1


def test_headers_same_length_names_distinguished():
    h = Headers([("x-aaaa", "1"), ("x-aaab", "2"), ("x-aaa", "3")])
    assert h["x-aaab"] == "2"
    assert h["x-aaa"] == "3"
    assert h.get("x-aaac") is None


# ------------------------------------------------------------------ MutableHeaders


def _storage(h):
    """The list a MutableHeaders keeps its pairs in (found through the GC's view
    of the object), to check that it is edited in place, never replaced."""
    lists = [x for x in gc.get_referents(h) if type(x) is list]
    assert len(lists) == 1, lists      # no cached names on a fresh object
    return lists[0]


def test_mutable_headers_validate_and_lowercase_on_construction():
    h = MutableHeaders({"Content-Type": "text/html", "X-Count": 5, b"X-Raw": b"caf\xe9", "Vary": ["a", "b"]})
    assert h.items() == [("content-type", "text/html"), ("x-count", "5"), ("x-raw", "caf\xe9"),
                         ("vary", "a"), ("vary", "b")]
    assert isinstance(h, Headers) and isinstance(h, Mapping)
    assert h == Headers(h.items())
    assert repr(MutableHeaders({"A": "1"})) == "MutableHeaders([('a', '1')])"
    assert MutableHeaders() == {} and MutableHeaders(None).items() == []


def test_mutable_headers_edit_their_list_in_place():
    h = MutableHeaders([("a", "1"), ("b", "2")])
    pairs = _storage(h)
    h["a"] = "x"
    h.append("c", "3")
    h.setdefault("d", "4")
    del h["b"]
    h.update({"e": "5", "a": "y"})
    h.__init__({"z": "26"})
    assert _storage(h) is pairs
    assert pairs == [("z", "26")]
    h["q"] = "1"
    assert pairs == [("z", "26"), ("q", "1")]


def test_mutable_headers_setitem_replaces_all_keeps_first_position():
    h = MutableHeaders([("Set-Cookie", "a=1"), ("Vary", "x"), ("set-cookie", "b=2"), ("X-Last", "z")])
    h["SET-COOKIE"] = "c=3"
    assert h.items() == [("set-cookie", "c=3"), ("vary", "x"), ("x-last", "z")]
    h["New"] = 7
    assert h.items()[-1] == ("new", "7")
    assert h.getlist("set-cookie") == ["c=3"]


def test_mutable_headers_delitem():
    h = MutableHeaders([("a", "1"), ("b", "2"), ("A", "3")])
    del h["A"]
    assert h.items() == [("b", "2")]
    for missing in ("a", "nope", b"b", 1):
        with pytest.raises(KeyError):
            del h[missing]
    assert h.items() == [("b", "2")]


def test_mutable_headers_append_and_setdefault():
    h = MutableHeaders({"Vary": "accept"})
    h.append("VARY", "cookie")
    assert h.getlist("vary") == ["accept", "cookie"]
    assert h.setdefault("vary", "other") == "accept"
    assert h.getlist("vary") == ["accept", "cookie"]
    assert h.setdefault("X-Num", 42) == "42"
    assert h["x-num"] == "42"
    with pytest.raises(ValueError):
        h.setdefault("vary", "bad\r\nvalue")    # the value is validated even when not needed


def test_mutable_headers_update():
    h = MutableHeaders([("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")])
    h.update([("A", "x"), ("d", "5"), ("a", "y")])
    assert h.items() == [("a", "x"), ("a", "y"), ("b", "2"), ("c", "4"), ("d", "5")]
    h.update({"c": ["p", "q"]})
    assert h.items() == [("a", "x"), ("a", "y"), ("b", "2"), ("c", "p"), ("c", "q"), ("d", "5")]
    h.update(Headers({"B": "h"}))
    assert h["b"] == "h"
    h.update(None)
    h.update({})
    before = h.items()
    with pytest.raises(ValueError):
        h.update([("e", "fine"), ("f", "bad\nvalue")])    # all or nothing
    assert h.items() == before


@pytest.mark.parametrize("name, exc", [
    ("", ValueError), ("a b", ValueError), ("a:b", ValueError), ("x\r\ny", ValueError),
    ("caf\xe9", ValueError), ("(x)", ValueError), (b"a b", ValueError),
    (None, TypeError), (1, TypeError), (("a",), TypeError),
])
def test_mutable_headers_reject_bad_names(name, exc):
    h = MutableHeaders({"keep": "1"})
    for op in (lambda: h.__setitem__(name, "v"), lambda: h.append(name, "v"),
               lambda: h.setdefault(name, "v"), lambda: h.update([(name, "v")]),
               lambda: MutableHeaders([(name, "v")])):
        with pytest.raises(exc):
            op()
    assert h.items() == [("keep", "1")]


@pytest.mark.parametrize("value, exc, words", [
    ("a\r\nX-Injected: 1", ValueError, "CR, LF, NUL"),
    ("line\n", ValueError, "CR, LF, NUL"),
    ("cr\r", ValueError, "CR, LF, NUL"),
    ("nul\x00", ValueError, "CR, LF, NUL"),
    ("bell\x07", ValueError, "CR, LF, NUL"),
    ("del\x7f", ValueError, "CR, LF, NUL"),
    (b"bytes\r\n", ValueError, "CR, LF, NUL"),
    ("snow \u2603", ValueError, "percent-encode"),
    (None, TypeError, "must be str"), (1.5, TypeError, "must be str"), (True, TypeError, "must be str"),
    (["a"], TypeError, "must be str"),
])
def test_mutable_headers_reject_bad_values(value, exc, words):
    h = MutableHeaders({"keep": "1"})
    with pytest.raises(exc, match=words):
        h["x"] = value
    with pytest.raises(exc):
        h.append("x", value)
    assert h.items() == [("keep", "1")]


def test_mutable_headers_accepted_values():
    h = MutableHeaders()
    h["tab"] = "a\tb"
    h["latin"] = "caf\xe9 \xff"
    h["raw"] = b"\xe9"
    h["num"] = 0
    h["empty"] = ""
    assert h.items() == [("tab", "a\tb"), ("latin", "caf\xe9 \xff"), ("raw", "\xe9"), ("num", "0"), ("empty", "")]


def test_mutable_headers_views_follow_mutations():
    h = MutableHeaders([("a", "1"), ("b", "2"), ("a", "3")])
    ref = Headers(h.items())
    assert (len(h), list(h), h.keys(), h.values()) == (len(ref), list(ref), ref.keys(), ref.values())
    assert len(h) == 2 and list(h) == ["a", "b"]       # distinct names, like Headers
    h.append("c", "4")
    assert len(h) == 3 and list(h) == ["a", "b", "c"] and h.keys() == ["a", "b", "c"]
    del h["a"]
    assert len(h) == 2 and list(h) == ["b", "c"] and "a" not in h


def test_mutable_headers_index_dropped_on_mutation():
    n = INDEX_MIN_ENTRIES * 2
    h = MutableHeaders([(f"x-{i}", str(i)) for i in range(n)])
    for _ in range(INDEX_AFTER_SCANS + 2):      # past the point where the index is built
        assert h["x-0"] == "0"
    h["x-0"] = "changed"
    h.append("x-1", "again")
    del h["x-2"]
    h["x-new"] = "new"
    for _ in range(INDEX_AFTER_SCANS + 2):
        assert h["x-0"] == "changed"
        assert h.getlist("x-1") == ["1", "again"]
        assert "x-2" not in h and h.get("x-2") is None
        assert h["x-new"] == "new"
    assert len(h) == n


def test_mutable_headers_pickle_and_equality():
    h = MutableHeaders([("a", "1"), ("a", "2")])
    r = pickle.loads(pickle.dumps(h))
    assert type(r) is MutableHeaders and r == h and r.getlist("a") == ["1", "2"]
    assert h == Headers([("A", "1"), ("a", "2")]) and Headers([("a", "1"), ("a", "2")]) == h
    assert h == [("a", "1"), ("a", "2")]
    assert h != [("bad name", "1")]           # not convertible: unequal, no exception
    with pytest.raises(TypeError):
        hash(h)


# ------------------------------------------------------------------ MultiDict


def test_multidict_last_value_wins():
    m = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert m["a"] == "3"
    assert m.get("a") == "3"
    assert m.getlist("a") == ["1", "3"]
    assert m["b"] == "2"
    assert m.keys() == ["a", "b"]
    assert list(m) == ["a", "b"]
    assert len(m) == 2
    assert m.values() == ["1", "2", "3"]
    assert m.items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert m.to_dict() == {"a": ["1", "3"], "b": ["2"]}


def test_multidict_case_sensitive_and_missing():
    m = MultiDict({"Key": "v"})
    assert "key" not in m
    with pytest.raises(KeyError):
        m["key"]
    with pytest.raises(KeyError):
        m[0]
    assert m.get("key") is None
    assert m.get("key", 5) == 5
    assert m.getlist("key") == []
    assert m.get(None) is None


def test_multidict_roundtrip_through_to_dict():
    m = QueryParams([("a", "1"), ("b", "2"), ("a", "3"), ("", "")])
    assert QueryParams(m.to_dict()) == m
    assert QueryParams(m) == m
    assert QueryParams(m.items()) == m


def test_multidict_equality():
    a = QueryParams([("a", "1"), ("b", "2"), ("a", "3")])
    assert a == QueryParams([("b", "2"), ("a", "1"), ("a", "3")])
    assert a != QueryParams([("a", "3"), ("a", "1"), ("b", "2")])
    assert a == {"a": ["1", "3"], "b": "2"}
    assert a != {"a": "3", "b": "2"}
    assert a != "a=1"
    assert MultiDict() == QueryParams() == FormData()
    assert a != [("a", "1", "x")]


def test_multidict_unhashable_repr_pickle():
    q = QueryParams([("a", "1")])
    with pytest.raises(TypeError):
        hash(q)
    assert repr(q) == "QueryParams([('a', '1')])"
    assert repr(FormData()) == "FormData([])"
    r = pickle.loads(pickle.dumps(q))
    assert type(r) is QueryParams and r == q
    assert isinstance(q, Mapping) and isinstance(q, MultiDict)
    assert dict(q) == {"a": "1"}


def test_multidict_constructor_errors():
    with pytest.raises(TypeError):
        MultiDict("a=1")
    with pytest.raises(TypeError):
        MultiDict({1: "a"})
    with pytest.raises(TypeError):
        MultiDict([(1, "a")])


def test_multidict_long_list_index_path_matches_scan():
    n = INDEX_MIN_ENTRIES * 4
    items = [(f"k{i % 10}", i) for i in range(n)]
    m = MultiDict(items)
    expected = {}
    for k, v in items:
        expected.setdefault(k, []).append(v)
    for rnd in range(INDEX_AFTER_SCANS):
        for k, vals in expected.items():
            assert m[k] == vals[-1]
            assert m.getlist(k) == vals
        assert "zz" not in m
        assert m.getlist("zz") == []


def test_multidict_values_can_be_any_object():
    u = UploadFile("f.txt", b"x")
    f = FormData([("file", u), ("n", "1")])
    assert f["file"] is u
    assert f.getlist("file") == [u]


# ------------------------------------------------------------------ UploadFile / FormData.close


def test_upload_file_basics(tmp_path):
    data = b"line1\r\nline2\x00\xff"
    u = UploadFile("report.bin", data, "application/octet-stream", {"Content-Type": "application/octet-stream"})
    assert u.filename == "report.bin"
    assert u.content_type == "application/octet-stream"
    assert u.size == len(data)
    assert u.read() == data
    assert u.read() == data  # read() always returns the whole content
    assert u.headers["content-type"] == "application/octet-stream"
    assert u.text("latin-1") == data.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        u.text()
    assert u.text(errors="replace") == data.decode("utf-8", "replace")
    dest = tmp_path / "out.bin"
    assert u.save(dest) == len(data)
    assert dest.read_bytes() == data
    assert u.save(str(tmp_path / "out2.bin")) == len(data)
    assert (tmp_path / "out2.bin").read_bytes() == data
    assert repr(u) == f"UploadFile(filename='report.bin', content_type='application/octet-stream', size={len(data)})"


def test_upload_file_defaults_and_types():
    u = UploadFile("a")
    assert u.read() == b""
    assert u.size == 0
    assert u.content_type == "text/plain"
    assert isinstance(u.headers, Headers) and len(u.headers) == 0
    with pytest.raises(TypeError):
        UploadFile(None)
    with pytest.raises(TypeError):
        UploadFile("a", "not bytes")
    with pytest.raises(AttributeError):
        u.filename = "other"


def test_upload_file_close_and_formdata_close(tmp_path):
    u1, u2 = UploadFile("a", b"1"), UploadFile("b", b"22")
    form = FormData([("f", u1), ("x", "text"), ("f", u2)])
    form.close()
    form.close()  # idempotent
    assert u1.closed and u2.closed
    assert u2.size == 2  # the size stays known
    for fn in (u1.read, u1.text, lambda: u1.save(tmp_path / "x")):
        with pytest.raises(ValueError):
            fn()
    assert not os.path.exists(tmp_path / "x")
    assert form["x"] == "text"
