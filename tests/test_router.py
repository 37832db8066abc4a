"""Tests of the compiled router (catzilla/router.pyx)."""
import functools
import random
import re
import uuid
from urllib.parse import unquote

import pytest

from catzilla.router import KNOWN_METHODS, Route, RouteError, Router


def h(request):
    return "h"


def h_kw(request, **kw):
    return kw


def find(router, method, path):
    return router.find(method, path)


# ---------------------------------------------------------------- converters


def test_static_route_returns_none_params():
    r = Router()
    route = r.add("GET", "/hello", h)
    assert r.find("GET", "/hello") == (route, None)
    assert r.find("GET", "/") == (None, ())


def test_root_route():
    r = Router()
    route = r.add("GET", "/", h)
    assert r.find("GET", "/") == (route, None)
    assert r.find("GET", "//") == (None, ())


def test_str_converter_default_and_explicit():
    r = Router()
    a = r.add("GET", "/a/{name}", h_kw)
    b = r.add("GET", "/b/{name:str}", h_kw)
    assert r.find("GET", "/a/bob") == (a, {"name": "bob"})
    assert r.find("GET", "/b/with space") == (b, {"name": "with space"})
    # one non-empty segment only
    assert r.find("GET", "/a/") == (None, ())
    assert r.find("GET", "/a/x/y") == (None, ())
    assert r.find("GET", "/a") == (None, ())


def test_int_converter():
    r = Router()
    route = r.add("GET", "/n/{id:int}", h_kw)
    found, params = r.find("GET", "/n/42")
    assert found is route and params == {"id": 42} and type(params["id"]) is int
    assert r.find("GET", "/n/007")[1] == {"id": 7}
    assert r.find("GET", "/n/0")[1] == {"id": 0}
    big = "123456789012345678901234567890"
    assert r.find("GET", "/n/" + big)[1] == {"id": int(big)}
    assert r.find("GET", "/n/" + "9" * 18)[1] == {"id": 10**18 - 1}
    assert r.find("GET", "/n/" + "9" * 19)[1] == {"id": 10**19 - 1}
    for bad in ("-1", "+1", "1.5", "abc", "1a", " 1", "", "١٢"):  # last: Arabic-Indic digits
        assert r.find("GET", "/n/" + bad) == (None, ()), bad


def test_float_converter():
    r = Router()
    route = r.add("GET", "/f/{x:float}", h_kw)
    found, params = r.find("GET", "/f/3.25")
    assert found is route and params == {"x": 3.25} and type(params["x"]) is float
    assert r.find("GET", "/f/5")[1] == {"x": 5.0}
    assert type(r.find("GET", "/f/5")[1]["x"]) is float
    assert r.find("GET", "/f/0.1")[1] == {"x": 0.1}
    long_text = "1" * 70 + ".5"   # longer than the C buffer: falls back to float()
    assert r.find("GET", "/f/" + long_text)[1] == {"x": float(long_text)}
    for bad in ("1.", ".5", "1.2.3", "-1.0", "1e5", "inf", "nan", "1,5", "abc"):
        assert r.find("GET", "/f/" + bad) == (None, ()), bad


def test_uuid_converter():
    r = Router()
    route = r.add("GET", "/u/{uid:uuid}", h_kw)
    value = uuid.uuid4()
    found, params = r.find("GET", f"/u/{value}")
    assert found is route and params == {"uid": value}
    got = params["uid"]
    assert type(got) is uuid.UUID and hash(got) == hash(value) and str(got) == str(value)
    assert got.version == 4 and got.is_safe == uuid.UUID(str(value)).is_safe
    upper = str(value).upper()
    assert r.find("GET", f"/u/{upper}")[1] == {"uid": value}
    for text in ("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"):
        assert r.find("GET", "/u/" + text)[1] == {"uid": uuid.UUID(text)}
    for bad in (value.hex, "{%s}" % value, str(value)[:-1], str(value) + "0",
                str(value).replace("-", "_"), "g" + str(value)[1:], f"urn:uuid:{value}"):
        assert r.find("GET", "/u/" + bad) == (None, ()), bad


def test_path_converter():
    r = Router()
    route = r.add("GET", "/static/{rest:path}", h_kw)
    assert r.find("GET", "/static/css/site.css") == (route, {"rest": "css/site.css"})
    assert r.find("GET", "/static/a") == (route, {"rest": "a"})
    assert r.find("GET", "/static/dir/") == (route, {"rest": "dir/"})
    assert r.find("GET", "/static//x") == (route, {"rest": "/x"})
    # the rest must be non-empty
    assert r.find("GET", "/static/") == (None, ())
    assert r.find("GET", "/static") == (None, ())


def test_path_converter_at_root():
    r = Router()
    route = r.add("GET", "/{p:path}", h_kw)
    assert r.find("GET", "/a/b/c") == (route, {"p": "a/b/c"})
    assert r.find("GET", "/") == (None, ())


def test_several_params_in_order():
    r = Router()
    route = r.add("GET", "/users/{id:int}/posts/{slug}/v/{ver:float}", h_kw)
    assert route.param_names == ("id", "slug", "ver")
    assert r.find("GET", "/users/7/posts/hello/v/1.5") == (route, {"id": 7, "slug": "hello", "ver": 1.5})


def test_trailing_slash_is_significant():
    r = Router()
    plain = r.add("GET", "/users", h)
    slash = r.add("GET", "/users/", h)
    p_plain = r.add("GET", "/u/{id}", h_kw)
    p_slash = r.add("GET", "/v/{id}/", h_kw)
    assert r.find("GET", "/users") == (plain, None)
    assert r.find("GET", "/users/") == (slash, None)
    assert r.find("GET", "/u/1") == (p_plain, {"id": "1"})
    assert r.find("GET", "/u/1/") == (None, ())
    assert r.find("GET", "/v/1/") == (p_slash, {"id": "1"})
    assert r.find("GET", "/v/1") == (None, ())


# ---------------------------------------------------------------- precedence


def test_static_beats_param_regardless_of_order():
    for order in (0, 1):
        r = Router()
        if order:
            param = r.add("GET", "/users/{id}", h_kw)
            me = r.add("GET", "/users/me", h)
        else:
            me = r.add("GET", "/users/me", h)
            param = r.add("GET", "/users/{id}", h_kw)
        assert r.find("GET", "/users/me") == (me, None)
        assert r.find("GET", "/users/you") == (param, {"id": "you"})


def test_static_segment_beats_param_inside_tree():
    r = Router()
    static = r.add("GET", "/org/{org}/members/all", h_kw)
    param = r.add("GET", "/org/{org}/members/{who}", h_kw)
    assert r.find("GET", "/org/x/members/all") == (static, {"org": "x"})
    assert r.find("GET", "/org/x/members/bob") == (param, {"org": "x", "who": "bob"})


def test_typed_converters_before_str_and_path_last():
    r = Router()
    p_path = r.add("GET", "/x/{p:path}", h_kw)
    p_str = r.add("GET", "/x/{s}", h_kw)
    p_uuid = r.add("GET", "/x/{u:uuid}", h_kw)
    p_float = r.add("GET", "/x/{f:float}", h_kw)
    p_int = r.add("GET", "/x/{i:int}", h_kw)
    static = r.add("GET", "/x/42", h)
    value = uuid.uuid4()
    assert r.find("GET", "/x/42") == (static, None)
    assert r.find("GET", "/x/43") == (p_int, {"i": 43})
    assert r.find("GET", "/x/4.5") == (p_float, {"f": 4.5})
    assert r.find("GET", f"/x/{value}") == (p_uuid, {"u": value})
    assert r.find("GET", "/x/hello") == (p_str, {"s": "hello"})
    assert r.find("GET", "/x/a/b") == (p_path, {"p": "a/b"})


def test_backtracking_to_lower_precedence_branch():
    r = Router()
    by_int = r.add("GET", "/a/{n:int}/z", h_kw)
    by_str = r.add("GET", "/a/{s}/w", h_kw)
    by_path = r.add("GET", "/a/{p:path}", h_kw)
    assert r.find("GET", "/a/5/z") == (by_int, {"n": 5})
    assert r.find("GET", "/a/5/w") == (by_str, {"s": "5"})
    assert r.find("GET", "/a/5/q") == (by_path, {"p": "5/q"})
    # a static branch that fails deeper falls back to the parameter branch
    lit = r.add("GET", "/b/me/deep", h)
    prm = r.add("GET", "/b/{who}/shallow", h_kw)
    assert r.find("GET", "/b/me/deep") == (lit, None)
    assert r.find("GET", "/b/me/shallow") == (prm, {"who": "me"})


def test_method_aware_fallback_to_lower_precedence_route():
    r = Router()
    me = r.add("GET", "/users/me", h)
    delete = r.add("DELETE", "/users/{id}", h_kw)
    assert r.find("GET", "/users/me") == (me, None)
    assert r.find("DELETE", "/users/me") == (delete, {"id": "me"})
    found, allowed = r.find("POST", "/users/me")
    assert found is None and allowed == ("GET", "HEAD", "DELETE")


def test_many_static_siblings_use_the_dict():
    r = Router()
    routes = {i: r.add("GET", f"/s{i}/{{id:int}}", h_kw) for i in range(20)}
    for i, route in routes.items():
        assert r.find("GET", f"/s{i}/{i}") == (route, {"id": i})
    assert r.find("GET", "/s99/1") == (None, ())
    assert r.find("GET", "/s1/x") == (None, ())


# ---------------------------------------------------------------- 404 / 405 / HEAD


def test_404_vs_405_and_allowed_order():
    r = Router()
    r.add(["POST", "get"], "/items", h)
    r.add("DELETE", "/items/{id:int}", h_kw)
    r.add("PUT", "/items/{name}", h_kw)
    assert r.find("PATCH", "/items") == (None, ("GET", "HEAD", "POST"))
    # both /items/{id:int} and /items/{name} match "5": union of their methods
    assert r.find("GET", "/items/5") == (None, ("PUT", "DELETE"))
    assert r.find("GET", "/items/abc") == (None, ("PUT",))
    assert r.find("GET", "/nothing") == (None, ())
    assert r.find("GET", "/items/5/x") == (None, ())


def test_allowed_includes_static_and_dynamic_matches():
    r = Router()
    r.add("GET", "/p/me", h)
    r.add("OPTIONS", "/p/{who}", h_kw)
    r.add("PROPFIND", "/p/{rest:path}", h_kw)
    assert r.find("POST", "/p/me") == (None, ("GET", "HEAD", "OPTIONS", "PROPFIND"))


def test_methods_are_case_sensitive_at_find():
    r = Router()
    r.add("get", "/x", h)
    assert r.find("get", "/x") == (None, ("GET", "HEAD"))


def test_head_falls_back_to_get():
    r = Router()
    static = r.add("GET", "/s", h)
    dyn = r.add("GET", "/d/{id:int}", h_kw)
    rest = r.add("GET", "/p/{p:path}", h_kw)
    assert r.find("HEAD", "/s") == (static, None)
    assert r.find("HEAD", "/d/3") == (dyn, {"id": 3})
    assert r.find("HEAD", "/p/a/b") == (rest, {"p": "a/b"})
    assert r.find("POST", "/s") == (None, ("GET", "HEAD"))
    assert r.find("POST", "/d/3") == (None, ("GET", "HEAD"))


def test_explicit_head_wins_in_either_order():
    for head_first in (False, True):
        r = Router()
        if head_first:
            head = r.add("HEAD", "/x", h)
            get = r.add("GET", "/x", h)
        else:
            get = r.add("GET", "/x", h)
            head = r.add("HEAD", "/x", h)
        assert r.find("HEAD", "/x") == (head, None)
        assert r.find("GET", "/x") == (get, None)
        assert r.find("PUT", "/x") == (None, ("GET", "HEAD"))


def test_head_only_route_does_not_answer_get():
    r = Router()
    r.add("HEAD", "/x/{id}", h_kw)
    assert r.find("GET", "/x/1") == (None, ("HEAD",))


def test_find_argument_types_and_odd_paths():
    r = Router()
    r.add("GET", "/{p:path}", h_kw)
    r.add("GET", "/s", h)
    with pytest.raises(TypeError):
        r.find("GET", None)
    with pytest.raises(TypeError):
        r.find(None, "/s")
    with pytest.raises(TypeError):
        r.find("GET", b"/s")
    assert r.find("GET", "") == (None, ())
    assert r.find("GET", "*") == (None, ())
    assert r.find("GET", "s") == (None, ())


# ---------------------------------------------------------------- unicode


def test_unicode_segments():
    r = Router()
    latin = r.add("GET", "/café", h)
    cjk = r.add("GET", "/日本/{city}", h_kw)
    emoji = r.add("GET", "/🐱/{id:int}/{rest:path}", h_kw)
    mixed = r.add("GET", "/ü/{name}/ñ", h_kw)
    assert r.find("GET", "/café") == (latin, None)
    assert r.find("GET", "/cafe") == (None, ())
    assert r.find("GET", "/日本/東京") == (cjk, {"city": "東京"})
    assert r.find("GET", "/日本/paris") == (cjk, {"city": "paris"})
    assert r.find("GET", "/🐱/3/ä/😀") == (emoji, {"id": 3, "rest": "ä/😀"})
    assert r.find("GET", "/ü/🐍/ñ") == (mixed, {"name": "🐍"})
    assert r.find("GET", "/ü/x/n") == (None, ())
    # many unicode siblings go through the dict lookup
    many = {w: r.add("GET", f"/{w}/{{x}}", h_kw) for w in ("α", "β", "γ", "δ", "ε", "ζ", "η", "θ", "ι", "κ")}
    assert r.find("GET", "/θ/🐍") == (many["θ"], {"x": "🐍"})


# ---------------------------------------------------------------- prefixes & include


def test_router_prefix():
    r = Router("/api")
    assert r.prefix == "/api"
    users = r.add("GET", "/users", h)
    root = r.add("GET", "", h)
    slash = r.add("GET", "/", h)
    assert users.path == "/api/users" and root.path == "/api" and slash.path == "/api/"
    assert r.find("GET", "/api/users") == (users, None)
    assert r.find("GET", "/api") == (root, None)
    assert r.find("GET", "/api/") == (slash, None)
    assert r.find("GET", "/users") == (None, ())


def test_prefix_with_parameter():
    r = Router("/orgs/{org}")
    route = r.add("GET", "/repos/{id:int}", h_kw)
    assert route.param_names == ("org", "id")
    assert r.find("GET", "/orgs/acme/repos/3") == (route, {"org": "acme", "id": 3})


@pytest.mark.parametrize("prefix", ["api", "/api/", "/", "/a{b", "/a/{x:nope}"])
def test_bad_router_prefix(prefix):
    with pytest.raises(RouteError, match=re.escape(repr(prefix))):
        Router(prefix)


def test_relative_path_rejected():
    with pytest.raises(RouteError, match="'users'"):
        Router("/api").add("GET", "users", h)
    with pytest.raises(RouteError, match="''"):
        Router().add("GET", "", h)


def test_include_groups_nested():
    comments = Router("/comments")
    comment = comments.add("GET", "/{cid:int}", h_kw, name="comment")

    posts = Router("/posts")
    post_list = posts.add(["GET", "POST"], "", h, name="posts")
    posts.include(comments, "/{pid:int}")

    api = Router("/api")
    api.include(posts, "/v1")
    api.add("GET", "/health", h, name="health")

    paths = sorted(route.path for route in api.routes)
    assert paths == ["/api/health", "/api/v1/posts", "/api/v1/posts/{pid:int}/comments/{cid:int}"]
    found, params = api.find("GET", "/api/v1/posts/4/comments/9")
    assert params == {"pid": 4, "cid": 9}
    assert found.endpoint is h_kw and found.name == "comment" and found.params_as_kwargs
    assert found is not comment   # a copy carrying the full path
    found, params = api.find("POST", "/api/v1/posts")
    assert found.methods == ("GET", "POST") and found.endpoint is h and params is None
    assert api.find("DELETE", "/api/v1/posts") == (None, ("GET", "HEAD", "POST"))
    # the included routers keep working on their own
    assert comments.find("GET", "/comments/1") == (comment, {"cid": 1})
    assert posts.find("GET", "/posts") == (post_list, None)
    assert api.url_path_for("comment", pid=1, cid=2) == "/api/v1/posts/1/comments/2"


def test_include_without_prefix_and_snapshot():
    child = Router()
    child.add("GET", "/a", h)
    parent = Router()
    parent.include(child)
    child.add("GET", "/b", h)   # added after the include: not mounted
    assert parent.find("GET", "/a")[0] is not None
    assert parent.find("GET", "/b") == (None, ())


def test_include_recomputes_params_as_kwargs():
    def only_id(request, id):
        return id

    child = Router()
    child.add("GET", "/{id}", only_id)
    assert child.routes[0].params_as_kwargs
    parent = Router()
    parent.include(child, "/t/{tenant}")
    assert parent.routes[0].param_names == ("tenant", "id")
    assert not parent.routes[0].params_as_kwargs   # only_id does not accept tenant


def test_include_is_all_or_nothing():
    parent = Router()
    parent.add("GET", "/g/b/{x}", h_kw)
    child = Router()
    child.add("GET", "/a", h)
    child.add("GET", "/b/{y}", h_kw)   # same shape as parent's /g/b/{x}
    with pytest.raises(RouteError, match=re.escape("'/g/b/{y}'")):
        parent.include(child, "/g")
    assert parent.find("GET", "/g/a") == (None, ())
    assert len(parent.routes) == 1


def test_include_bad_prefix_and_duplicate_param():
    child = Router()
    child.add("GET", "/{id}", h_kw)
    parent = Router()
    with pytest.raises(RouteError, match="'x'"):
        parent.include(child, "x")
    with pytest.raises(RouteError, match="'/x/'"):
        parent.include(child, "/x/")
    with pytest.raises(RouteError, match=re.escape("'/u/{id}/{id}'")):
        parent.include(child, "/u/{id}")
    with pytest.raises(TypeError):
        parent.include(None)
    assert parent.routes == []


def test_include_into_itself_with_prefix():
    r = Router()
    r.add("GET", "/a", h)
    r.include(r, "/v2")
    assert sorted(route.path for route in r.routes) == ["/a", "/v2/a"]
    with pytest.raises(RouteError, match="conflict"):
        r.include(r)


# ---------------------------------------------------------------- bad patterns


@pytest.mark.parametrize("path, fragment", [
    ("users", "must start with '/'"),
    ("/a{b}", "whole segment"),
    ("/{a}b", "whole segment"),
    ("/x/{a}{b}", "whole segment"),
    ("/{a", "unbalanced"),
    ("/a}", "unbalanced"),
    ("/}a{", "unbalanced"),
    ("/{{a}}", "nested"),
    ("/{a:int", "unbalanced"),
    ("/{a:bogus}", "unknown converter"),
    ("/{a:}", "unknown converter"),
    ("/{a: int}", "unknown converter"),
    ("/{}", "invalid parameter name"),
    ("/{1a}", "invalid parameter name"),
    ("/{a-b}", "invalid parameter name"),
    ("/{:int}", "invalid parameter name"),
    ("/{a}/{a:int}", "duplicate parameter name"),
    ("/{p:path}/x", "must be the last segment"),
    ("/{p:path}/", "must be the last segment"),
    ("/a//b", "empty segment"),
    ("//", "empty segment"),
])
def test_bad_patterns(path, fragment):
    r = Router()
    with pytest.raises(RouteError) as info:
        r.add("GET", path, h_kw)
    message = str(info.value)
    assert fragment in message
    assert repr(path) in message
    assert isinstance(info.value, ValueError)
    assert r.routes == []


def test_too_many_params():
    path = "".join(f"/{{p{i}}}" for i in range(33))
    with pytest.raises(RouteError, match="more than 32 parameters"):
        Router().add("GET", path, h_kw)
    ok = "".join(f"/{{p{i}}}" for i in range(32))
    r = Router()
    route = r.add("GET", ok, h_kw)
    found, params = r.find("GET", "".join(f"/v{i}" for i in range(32)))
    assert found is route and params == {f"p{i}": f"v{i}" for i in range(32)}


@pytest.mark.parametrize("methods, fragment", [
    ("", "empty HTTP method"),
    ([], "no HTTP method"),
    (["GET", ""], "empty HTTP method"),
    ("GE T", "invalid HTTP method token"),
    ("GET/", "invalid HTTP method token"),
    ("GÉT", "invalid HTTP method token"),
    ("FETCH", "unknown HTTP method 'FETCH'"),
    ("GTE", "unknown HTTP method"),
])
def test_bad_methods(methods, fragment):
    r = Router()
    with pytest.raises(RouteError) as info:
        r.add(methods, "/m", h)
    assert fragment in str(info.value) and "'/m'" in str(info.value)
    assert r.routes == []


def test_method_type_errors_and_normalisation():
    r = Router()
    with pytest.raises(TypeError, match="'/m'"):
        r.add(5, "/m", h)
    with pytest.raises(TypeError, match="'/m'"):
        r.add(["GET", 5], "/m", h)
    route = r.add(("get", "Post", "GET"), "/m", h)
    assert route.methods == ("GET", "POST")
    assert all(m == m.upper() for m in KNOWN_METHODS)
    webdav = r.add("propfind", "/dav", h)
    assert webdav.methods == ("PROPFIND",)


def test_endpoint_must_be_callable_and_name_non_empty():
    r = Router()
    with pytest.raises(TypeError, match="'/x'"):
        r.add("GET", "/x", "not callable")
    with pytest.raises(RouteError, match="'/x'"):
        r.add("GET", "/x", h, name="")
    assert r.routes == []


# ---------------------------------------------------------------- conflicts


@pytest.mark.parametrize("first, second", [
    ("/x", "/x"),
    ("/u/{id}", "/u/{uid}"),
    ("/u/{id:str}", "/u/{other}"),
    ("/u/{id:int}/a", "/u/{n:int}/a"),
    ("/f/{a:float}", "/f/{b:float}"),
    ("/g/{a:uuid}", "/g/{b:uuid}"),
    ("/p/{a:path}", "/p/{b:path}"),
    ("/t/{a}/", "/t/{b}/"),
])
def test_conflicts(first, second):
    r = Router()
    r.add("GET", first, h_kw)
    with pytest.raises(RouteError) as info:
        r.add(["POST", "GET"], second, h_kw)
    message = str(info.value)
    assert "conflict" in message and repr(second) in message and repr(first) in message
    # nothing of the failed add was registered (POST included)
    assert len(r.routes) == 1
    sample = second.replace("{a:float}", "1.5").replace("{b:float}", "1.5")
    sample = re.sub(r"\{[a-z]+:uuid\}", str(uuid.uuid4()), sample)
    sample = re.sub(r"\{[a-z]+(:[a-z]+)?\}", "7", sample)
    assert r.find("POST", sample) == (None, ("GET", "HEAD"))


def test_no_conflict_for_other_methods_or_converters():
    r = Router()
    r.add("GET", "/u/{id}", h_kw)
    r.add("POST", "/u/{uid}", h_kw)        # other method on the same shape
    r.add("GET", "/u/{id:int}", h_kw)      # other converter
    r.add("GET", "/u/{p:path}", h_kw)
    r.add("GET", "/u/me", h)
    r.add("GET", "/u/{id}/", h_kw)         # trailing slash: other shape
    r.add("HEAD", "/u/{id}", h_kw)         # explicit HEAD beside GET is fine
    assert len(r.routes) == 7
    assert r.find("POST", "/u/5")[0].param_names == ("uid",)
    with pytest.raises(RouteError, match="conflict"):
        r.add("HEAD", "/u/{x}", h_kw)


def test_conflict_via_prefix():
    r = Router("/api")
    r.add("GET", "/x/{a}", h_kw)
    with pytest.raises(RouteError, match=re.escape("'/api/x/{b}'")):
        r.add("GET", "/x/{b}", h_kw)


# ---------------------------------------------------------------- Route metadata


def test_params_as_kwargs_detection():
    def named(request, id):
        return id

    def var_kw(request, **kw):
        return kw

    def no_params(request):
        return None

    def partly(request, id):
        return id

    def keyword_only(request, *, id, slug="x"):
        return id

    def needs_extra(request, id, extra):
        return id

    def positional_only(request, id, /):
        return id

    r = Router()
    assert r.add("GET", "/a/{id}", named).params_as_kwargs
    assert r.add("GET", "/b/{id}/{slug}", var_kw).params_as_kwargs
    assert not r.add("GET", "/c/{id}", no_params).params_as_kwargs
    assert not r.add("GET", "/d/{id}/{slug}", partly).params_as_kwargs
    assert r.add("GET", "/e/{id}", keyword_only).params_as_kwargs
    assert r.add("GET", "/e2/{id}/{slug}", keyword_only).params_as_kwargs
    assert not r.add("GET", "/f/{id}", needs_extra).params_as_kwargs
    assert not r.add("GET", "/g/{id}", positional_only).params_as_kwargs
    # a route without parameters never gets keyword arguments
    assert not r.add("GET", "/static", var_kw).params_as_kwargs
    # partials, callable objects, bound methods
    assert r.add("GET", "/h/{id}", functools.partial(named)).params_as_kwargs
    # partial(named, id=1) has the signature (request, *, id=1)
    assert r.add("GET", "/i/{id}", functools.partial(named, id=1)).params_as_kwargs
    assert not r.add("GET", "/i2/{slug}", functools.partial(named, id=1)).params_as_kwargs

    class View:
        def __call__(self, request, id):
            return id

        def method(self, request, id):
            return id

    assert r.add("GET", "/j/{id}", View()).params_as_kwargs
    assert r.add("GET", "/k/{id}", View().method).params_as_kwargs
    assert not r.add("GET", "/l/{slug}", View().method).params_as_kwargs

    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self, request):
            return None

    assert not r.add("GET", "/m/{id}", NoSignature()).params_as_kwargs


def test_is_async_detection():
    async def coro(request):
        return None

    def sync(request):
        return None

    class AsyncCallable:
        async def __call__(self, request):
            return None

    class SyncCallable:
        def __call__(self, request):
            return None

    class Methods:
        async def a(self, request):
            return None

        def s(self, request):
            return None

    r = Router()
    assert r.add("GET", "/1", coro).is_async
    assert not r.add("GET", "/2", sync).is_async
    assert r.add("GET", "/3", functools.partial(coro)).is_async
    assert r.add("GET", "/4", functools.partial(functools.partial(coro))).is_async
    assert r.add("GET", "/5", AsyncCallable()).is_async
    assert r.add("GET", "/6", functools.partial(AsyncCallable())).is_async
    assert not r.add("GET", "/7", SyncCallable()).is_async
    assert r.add("GET", "/8", Methods().a).is_async
    assert not r.add("GET", "/9", Methods().s).is_async
    assert not r.add("GET", "/10", lambda request: None).is_async
    # calling the class builds an instance, not a coroutine
    assert not r.add("GET", "/11", AsyncCallable).is_async
    assert not r.add("GET", "/12", print).is_async


def test_route_attributes_and_names():
    async def show_user(request, id):
        return id

    r = Router("/api")
    route = r.add(["get", "post"], "/users/{id:int}", show_user)
    assert isinstance(route, Route)
    assert route.path == "/api/users/{id:int}"
    assert route.methods == ("GET", "POST")
    assert route.endpoint is show_user
    assert route.is_async and route.params_as_kwargs
    assert route.param_names == ("id",)
    assert route.name == "show_user"
    assert r.add("GET", "/p", functools.partial(show_user, id=1)).name == "show_user"
    assert r.add("GET", "/n", h, name="custom").name == "custom"

    class Callable:
        def __call__(self, request):
            return None

    assert r.add("GET", "/c", Callable()).name == "Callable"
    assert "show_user" in repr(route) and "/api/users/{id:int}" in repr(route)
    with pytest.raises(AttributeError):
        route.path = "/other"
    with pytest.raises(TypeError):
        Route()


def test_routes_property_is_a_copy_in_order():
    r = Router()
    a = r.add("GET", "/a", h)
    b = r.add("GET", "/b/{x}", h_kw)
    routes = r.routes
    assert routes == [a, b]
    routes.clear()
    assert r.routes == [a, b]


def test_decorators_register_and_return_endpoint():
    r = Router()

    def endpoint(request):
        return None

    for verb in ("get", "post", "put", "patch", "delete", "head", "options"):
        decorated = getattr(r, verb)(f"/{verb}", name=f"n_{verb}")(endpoint)
        assert decorated is endpoint
        route, params = r.find(verb.upper(), f"/{verb}")
        assert route.methods == (verb.upper(),) and route.name == f"n_{verb}" and params is None

    @r.route("/multi", methods=["PUT", "PATCH"])
    def multi(request):
        return None

    assert r.find("PATCH", "/multi")[0].endpoint is multi
    assert r.find("GET", "/multi") == (None, ("PUT", "PATCH"))

    @r.route("/default")
    def default(request):
        return None

    assert r.find("GET", "/default")[0].methods == ("GET",)

    with pytest.raises(RouteError, match="'/bad{'"):
        r.get("/bad{")(endpoint)


def test_router_subclass_keeps_working():
    class AppRouter(Router):
        def extra(self):
            return len(self.routes)

    r = AppRouter("/x")
    route = r.add("GET", "/{id:int}", h_kw)
    assert r.find("GET", "/x/3") == (route, {"id": 3})
    assert r.extra() == 1
    r.include(Router())
    assert Router.include is not None


# ---------------------------------------------------------------- url_path_for


def test_url_path_for_basic_and_converters():
    r = Router("/api")
    r.add("GET", "/", h, name="home")
    r.add("GET", "/users/{id:int}/posts/{slug}", h_kw, name="post")
    r.add("GET", "/f/{x:float}", h_kw, name="f")
    r.add("GET", "/u/{uid:uuid}", h_kw, name="u")
    r.add("GET", "/files/{rest:path}", h_kw, name="file")
    value = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    assert r.url_path_for("home") == "/api/"
    assert r.url_path_for("post", id=5, slug="hello") == "/api/users/5/posts/hello"
    assert r.url_path_for("post", id="7", slug="x") == "/api/users/7/posts/x"
    assert r.url_path_for("f", x=1.5) == "/api/f/1.5"
    assert r.url_path_for("f", x=2) == "/api/f/2"
    assert r.url_path_for("f", x=1e20) == "/api/f/100000000000000000000"
    assert r.url_path_for("f", x=1e-7) == "/api/f/0.0000001"
    assert r.url_path_for("u", uid=value) == f"/api/u/{value}"
    assert r.url_path_for("u", uid=str(value).upper()) == f"/api/u/{value}"
    assert r.url_path_for("file", rest="css/site main.css") == "/api/files/css/site%20main.css"


def test_url_path_for_quotes_and_round_trips():
    r = Router()
    r.add("GET", "/café/{name}/{rest:path}", h_kw, name="x")
    url = r.url_path_for("x", name="a b%c?#é", rest="d/e f")
    assert url == "/caf%C3%A9/a%20b%25c%3F%23%C3%A9/d/e%20f"
    found, params = r.find("GET", unquote(url))
    assert found.name == "x" and params == {"name": "a b%c?#é", "rest": "d/e f"}


def test_url_path_for_param_called_name_and_shared_names():
    r = Router()
    r.add("GET", "/tags/{name}", h_kw, name="tag")
    r.add("GET", "/tags/{name}/{page:int}", h_kw, name="tag")
    assert r.url_path_for("tag", name="py") == "/tags/py"
    assert r.url_path_for("tag", name="py", page=2) == "/tags/py/2"


@pytest.mark.parametrize("name, params, fragment", [
    ("missing", {}, "no route named 'missing'"),
    ("post", {"id": 1}, "takes parameters"),
    ("post", {"id": 1, "slug": "s", "extra": 2}, "takes parameters"),
    ("post", {"id": -1, "slug": "s"}, "does not match the int converter"),
    ("post", {"id": "abc", "slug": "s"}, "does not match the int converter"),
    ("post", {"id": True, "slug": "s"}, "needs an int"),
    ("post", {"id": 1.0, "slug": "s"}, "needs an int"),
    ("post", {"id": 1, "slug": "a/b"}, "does not match the str converter"),
    ("post", {"id": 1, "slug": ""}, "does not match the str converter"),
    ("f", {"x": -1.5}, "does not match the float converter"),
    ("f", {"x": float("inf")}, "does not match the float converter"),
    ("f", {"x": "1e5"}, "does not match the float converter"),
    ("f", {"x": None}, "needs a float"),
    ("u", {"uid": "not-a-uuid"}, "does not match the uuid converter"),
    ("u", {"uid": 5}, "needs a UUID"),
    ("file", {"rest": ""}, "does not match the path converter"),
])
def test_url_path_for_errors(name, params, fragment):
    r = Router()
    r.add("GET", "/users/{id:int}/posts/{slug}", h_kw, name="post")
    r.add("GET", "/f/{x:float}", h_kw, name="f")
    r.add("GET", "/u/{uid:uuid}", h_kw, name="u")
    r.add("GET", "/files/{rest:path}", h_kw, name="file")
    with pytest.raises(RouteError, match=re.escape(fragment)):
        r.url_path_for(name, **params)


# ---------------------------------------------------------------- differential check


_RANK = {"static": 0, "int": 1, "float": 2, "uuid": 3, "str": 4, "path": 5}
_REGEX = {
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "str": "[^/]+",
    "path": ".+",
}
_UUID_TEXT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


class _Reference:
    """Brute force: test every pattern's regex; the precedence is the
    lexicographic order of the per-segment ranks (literal < int < float <
    uuid < str < path), which is the order the tree search visits routes."""

    def __init__(self):
        self.shapes = {}   # shape -> {"regex", "rank", "names", "convs", "methods": {m: route}}

    def add(self, segs, methods, route):
        shape = tuple(text if kind == "static" else kind for kind, text in segs)
        entry = self.shapes.get(shape)
        if entry is not None and any(m in entry["methods"] for m in methods):
            return False
        if entry is None:
            regex = "".join("/" + (re.escape(t) if k == "static" else f"({_REGEX[k]})") for k, t in segs)
            entry = self.shapes[shape] = {
                "regex": re.compile(regex, re.DOTALL),
                "rank": tuple(_RANK[k] for k, _ in segs),
                "convs": [k for k, _ in segs if k != "static"],
                "methods": {},
            }
        for m in methods:
            entry["methods"][m] = route
        return True

    @staticmethod
    def _answers(entry, method):
        route = entry["methods"].get(method)
        if route is None and method == "HEAD":
            route = entry["methods"].get("GET")
        return route

    def find(self, method, path):
        matches = []
        for entry in self.shapes.values():
            m = entry["regex"].fullmatch(path)
            if m:
                matches.append((entry, m))
        winners = [(e["rank"], e, m) for e, m in matches if self._answers(e, method) is not None]
        if winners:
            _, entry, m = min(winners, key=lambda w: w[0])
            route = self._answers(entry, method)
            if not route.param_names:
                return route, None
            convert = {"int": int, "float": float, "uuid": uuid.UUID, "str": str, "path": str}
            values = [convert[c](v) for c, v in zip(entry["convs"], m.groups())]
            return route, dict(zip(route.param_names, values))
        allowed = set()
        for entry, _ in matches:
            allowed.update(entry["methods"])
            if "GET" in entry["methods"]:
                allowed.add("HEAD")
        order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return None, tuple(sorted(allowed, key=order.index))


def test_matches_brute_force_reference():
    rng = random.Random(20240607)
    words = ["a", "b", "users", "é", "5", "日本"]
    kinds = ["static"] * 5 + ["int", "float", "uuid", "str", "path"]
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
    values = ["a", "b", "users", "é", "日本", "5", "007", "3.5", "1.", _UUID_TEXT, "x y", "🐍"]
    for round_ in range(40):
        router = Router()
        ref = _Reference()
        added = 0
        for i in range(rng.randint(5, 30)):
            segs = []
            depth = rng.randint(1, 4)
            for d in range(depth):
                kind = rng.choice(kinds)
                if kind == "path" and d != depth - 1:
                    kind = "str"
                segs.append((kind, rng.choice(words) if kind == "static" else f"p{d}"))
            pattern = "".join("/" + (t if k == "static" else f"{{{t}:{k}}}") for k, t in segs)
            if rng.random() < 0.1 and segs[-1][0] != "path":
                pattern += "/"
                segs.append(("static", ""))
            chosen = tuple(rng.sample(methods, rng.randint(1, 2)))
            try:
                route = router.add(chosen, pattern, h_kw)
            except RouteError as exc:
                assert "conflict" in str(exc), exc
                assert not ref.add(segs, chosen, None), pattern
                continue
            assert ref.add(segs, route.methods, route), pattern
            added += 1
        assert added
        for j in range(300):
            depth = rng.randint(0, 5)
            path = "/" + "/".join(rng.choice(values) for _ in range(depth))
            if rng.random() < 0.1:
                path += "/"
            method = rng.choice(methods + ["PATCH"])
            assert router.find(method, path) == ref.find(method, path), (round_, method, path)
