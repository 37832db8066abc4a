"""Tests of the compiled router (catzilla/router.pyx)."""
import functools
import math
import random
import re
import uuid
from urllib.parse import unquote

import pytest

from catzilla import Catzilla, Response
from catzilla.router import KNOWN_METHODS, Match, Route, RouteError, Router
from catzilla.testing import TestClient


def h(request):
    return "h"


def h_kw(request, **kw):
    return kw


def find(router, method, path):
    """router.find() as (route, params) on a hit, (None, allowed) otherwise,
    after checking that the Match's other field is empty."""
    m = router.find(method, path)
    assert type(m) is Match
    if m.route is not None:
        assert m.allowed == ()
        return m.route, m.params
    assert m.params is None
    return None, m.allowed


# ---------------------------------------------------------------- converters


def test_a_routes_template_and_converters_come_from_its_parsed_pattern():
    def h(request, **params):
        return ""
    r = Route("/a/{id:int}/{lat:signed_float}/b/{name}/{rest:path}", h)
    assert r.template == "/a/{id}/{lat}/b/{name}/{rest}"
    assert r.param_converters == ("int", "signed_float", "str", "path")
    assert (Route("/", h).template, Route("/x/", h).template, Route("/x/", h).param_converters) == ("/", "/x/", ())
    moved = Router(prefix="/v1/{org:uuid}")
    moved.include(Router(routes=[r]))
    [copied] = moved.routes
    assert (copied.template, copied.param_converters[0]) == ("/v1/{org}/a/{id}/{lat}/b/{name}/{rest}", "uuid")


def test_static_route_returns_none_params():
    r = Router()
    route = r.add("/hello", h)
    assert find(r, "GET", "/hello") == (route, None)
    assert find(r, "GET", "/") == (None, ())


def test_root_route():
    r = Router()
    route = r.add("/", h)
    assert find(r, "GET", "/") == (route, None)
    assert find(r, "GET", "//") == (None, ())


def test_str_converter_default_and_explicit():
    r = Router()
    a = r.add("/a/{name}", h_kw)
    b = r.add("/b/{name:str}", h_kw)
    assert find(r, "GET", "/a/bob") == (a, {"name": "bob"})
    assert find(r, "GET", "/b/with space") == (b, {"name": "with space"})
    # one non-empty segment only
    assert find(r, "GET", "/a/") == (None, ())
    assert find(r, "GET", "/a/x/y") == (None, ())
    assert find(r, "GET", "/a") == (None, ())


def test_int_converter():
    r = Router()
    route = r.add("/n/{id:int}", h_kw)
    found, params = find(r, "GET", "/n/42")
    assert found is route and params == {"id": 42} and type(params["id"]) is int
    assert find(r, "GET", "/n/007")[1] == {"id": 7}
    assert find(r, "GET", "/n/0")[1] == {"id": 0}
    big = "123456789012345678901234567890"
    assert find(r, "GET", "/n/" + big)[1] == {"id": int(big)}
    assert find(r, "GET", "/n/" + "9" * 18)[1] == {"id": 10**18 - 1}
    assert find(r, "GET", "/n/" + "9" * 19)[1] == {"id": 10**19 - 1}
    for bad in ("-1", "+1", "1.5", "abc", "1a", " 1", "", "١٢"):  # last: Arabic-Indic digits
        assert find(r, "GET", "/n/" + bad) == (None, ()), bad


def test_float_converter():
    r = Router()
    route = r.add("/f/{x:float}", h_kw)
    found, params = find(r, "GET", "/f/3.25")
    assert found is route and params == {"x": 3.25} and type(params["x"]) is float
    assert find(r, "GET", "/f/5")[1] == {"x": 5.0}
    assert type(find(r, "GET", "/f/5")[1]["x"]) is float
    assert find(r, "GET", "/f/0.1")[1] == {"x": 0.1}
    long_text = "1" * 70 + ".5"   # longer than the C buffer: falls back to float()
    assert find(r, "GET", "/f/" + long_text)[1] == {"x": float(long_text)}
    for bad in ("1.", ".5", "1.2.3", "-1.0", "1e5", "inf", "nan", "1,5", "abc"):
        assert find(r, "GET", "/f/" + bad) == (None, ()), bad


def test_signed_int_converter():
    r = Router()
    route = r.add("/n/{id:signed_int}", h_kw)
    found, params = find(r, "GET", "/n/-42")
    assert found is route and params == {"id": -42} and type(params["id"]) is int
    assert find(r, "GET", "/n/42")[1] == {"id": 42}
    assert find(r, "GET", "/n/-007")[1] == {"id": -7}
    assert find(r, "GET", "/n/-0")[1] == {"id": 0}
    big = "123456789012345678901234567890"
    assert find(r, "GET", "/n/-" + big)[1] == {"id": -int(big)}
    assert find(r, "GET", "/n/-" + "9" * 18)[1] == {"id": -(10**18 - 1)}
    for bad in ("-", "--1", "+1", "-+1", "1-", "-1.5", "- 1", " -1", "-abc", "", "-١٢", "\u22121"):   # U+2212
        assert find(r, "GET", "/n/" + bad) == (None, ()), bad


def test_signed_float_converter():
    r = Router()
    route = r.add("/f/{x:signed_float}", h_kw)
    found, params = find(r, "GET", "/f/-3.25")
    assert found is route and params == {"x": -3.25} and type(params["x"]) is float
    assert find(r, "GET", "/f/3.25")[1] == {"x": 3.25}
    assert find(r, "GET", "/f/-5")[1] == {"x": -5.0} and type(find(r, "GET", "/f/-5")[1]["x"]) is float
    zero = find(r, "GET", "/f/-0.0")[1]["x"]
    assert zero == 0.0 and math.copysign(1.0, zero) == -1.0
    long_text = "-" + "1" * 70 + ".5"   # longer than the C buffer: falls back to float()
    assert find(r, "GET", "/f/" + long_text)[1] == {"x": float(long_text)}
    for bad in ("-", "-.5", "-1.", "--1", "+1.5", "-1e5", "-inf", "-nan", "1.5-", "-1,5"):
        assert find(r, "GET", "/f/" + bad) == (None, ()), bad


def test_uuid_converter():
    r = Router()
    route = r.add("/u/{uid:uuid}", h_kw)
    value = uuid.uuid4()
    found, params = find(r, "GET", f"/u/{value}")
    assert found is route and params == {"uid": value}
    got = params["uid"]
    assert type(got) is uuid.UUID and hash(got) == hash(value) and str(got) == str(value)
    assert got.version == 4 and got.is_safe == uuid.UUID(str(value)).is_safe
    upper = str(value).upper()
    assert find(r, "GET", f"/u/{upper}")[1] == {"uid": value}
    for text in ("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"):
        assert find(r, "GET", "/u/" + text)[1] == {"uid": uuid.UUID(text)}
    for bad in (value.hex, "{%s}" % value, str(value)[:-1], str(value) + "0",
                str(value).replace("-", "_"), "g" + str(value)[1:], f"urn:uuid:{value}"):
        assert find(r, "GET", "/u/" + bad) == (None, ()), bad


def test_path_converter():
    r = Router()
    route = r.add("/static/{rest:path}", h_kw)
    assert find(r, "GET", "/static/css/site.css") == (route, {"rest": "css/site.css"})
    assert find(r, "GET", "/static/a") == (route, {"rest": "a"})
    assert find(r, "GET", "/static/dir/") == (route, {"rest": "dir/"})
    assert find(r, "GET", "/static//x") == (route, {"rest": "/x"})
    # the rest must be non-empty
    assert find(r, "GET", "/static/") == (None, ())
    assert find(r, "GET", "/static") == (None, ())


def test_path_converter_at_root():
    r = Router()
    route = r.add("/{p:path}", h_kw)
    assert find(r, "GET", "/a/b/c") == (route, {"p": "a/b/c"})
    assert find(r, "GET", "/") == (None, ())


def test_several_params_in_order():
    r = Router()
    route = r.add("/users/{id:int}/posts/{slug}/v/{ver:float}", h_kw)
    assert route.param_names == ("id", "slug", "ver")
    assert find(r, "GET", "/users/7/posts/hello/v/1.5") == (route, {"id": 7, "slug": "hello", "ver": 1.5})


def test_trailing_slash_is_significant():
    r = Router()
    plain = r.add("/users", h)
    slash = r.add("/users/", h)
    p_plain = r.add("/u/{id}", h_kw)
    p_slash = r.add("/v/{id}/", h_kw)
    assert find(r, "GET", "/users") == (plain, None)
    assert find(r, "GET", "/users/") == (slash, None)
    assert find(r, "GET", "/u/1") == (p_plain, {"id": "1"})
    assert find(r, "GET", "/u/1/") == (None, ())
    assert find(r, "GET", "/v/1/") == (p_slash, {"id": "1"})
    assert find(r, "GET", "/v/1") == (None, ())


# ---------------------------------------------------------------- precedence


def test_static_beats_param_regardless_of_order():
    for order in (0, 1):
        r = Router()
        if order:
            param = r.add("/users/{id}", h_kw)
            me = r.add("/users/me", h)
        else:
            me = r.add("/users/me", h)
            param = r.add("/users/{id}", h_kw)
        assert find(r, "GET", "/users/me") == (me, None)
        assert find(r, "GET", "/users/you") == (param, {"id": "you"})


def test_static_segment_beats_param_inside_tree():
    r = Router()
    static = r.add("/org/{org}/members/all", h_kw)
    param = r.add("/org/{org}/members/{who}", h_kw)
    assert find(r, "GET", "/org/x/members/all") == (static, {"org": "x"})
    assert find(r, "GET", "/org/x/members/bob") == (param, {"org": "x", "who": "bob"})


def test_typed_converters_before_str_and_path_last():
    r = Router()
    p_path = r.add("/x/{p:path}", h_kw)
    p_str = r.add("/x/{s}", h_kw)
    p_uuid = r.add("/x/{u:uuid}", h_kw)
    p_float = r.add("/x/{f:float}", h_kw)
    p_int = r.add("/x/{i:int}", h_kw)
    static = r.add("/x/42", h)
    value = uuid.uuid4()
    assert find(r, "GET", "/x/42") == (static, None)
    assert find(r, "GET", "/x/43") == (p_int, {"i": 43})
    assert find(r, "GET", "/x/4.5") == (p_float, {"f": 4.5})
    assert find(r, "GET", f"/x/{value}") == (p_uuid, {"u": value})
    assert find(r, "GET", "/x/hello") == (p_str, {"s": "hello"})
    assert find(r, "GET", "/x/a/b") == (p_path, {"p": "a/b"})


def test_signed_converters_come_after_their_unsigned_ones():
    r = Router()
    p_str = r.add("/x/{s}", h_kw)
    p_sfloat = r.add("/x/{sf:signed_float}", h_kw)
    p_float = r.add("/x/{f:float}", h_kw)
    p_sint = r.add("/x/{si:signed_int}", h_kw)
    p_int = r.add("/x/{i:int}", h_kw)
    assert find(r, "GET", "/x/5") == (p_int, {"i": 5})
    assert find(r, "GET", "/x/-5") == (p_sint, {"si": -5})
    assert find(r, "GET", "/x/1.5") == (p_float, {"f": 1.5})
    assert find(r, "GET", "/x/-1.5") == (p_sfloat, {"sf": -1.5})
    assert find(r, "GET", "/x/+5") == (p_str, {"s": "+5"})
    assert find(r, "GET", "/x/-") == (p_str, {"s": "-"})
    # a signed converter alone takes the unsigned forms too, before float
    r = Router()
    p_sint = r.add("/y/{n:signed_int}", h_kw)
    p_float = r.add("/y/{f:float}", h_kw)
    assert find(r, "GET", "/y/5") == (p_sint, {"n": 5})
    assert find(r, "GET", "/y/5.5") == (p_float, {"f": 5.5})
    # backtracking from int to signed_int further down
    r = Router()
    by_int = r.add("/a/{n:int}/z", h_kw)
    by_signed = r.add("/a/{m:signed_int}/w", h_kw)
    by_sfloat = r.add("/a/{v:signed_float}/w", h_kw, "POST")
    assert find(r, "GET", "/a/5/w") == (by_signed, {"m": 5})
    assert find(r, "GET", "/a/-5/z") == (None, ())
    assert find(r, "PUT", "/a/-5/w") == (None, ("GET", "HEAD", "POST"))   # 405: every matching shape
    assert find(r, "POST", "/a/-5/w") == (by_sfloat, {"v": -5.0})


def test_backtracking_to_lower_precedence_branch():
    r = Router()
    by_int = r.add("/a/{n:int}/z", h_kw)
    by_str = r.add("/a/{s}/w", h_kw)
    by_path = r.add("/a/{p:path}", h_kw)
    assert find(r, "GET", "/a/5/z") == (by_int, {"n": 5})
    assert find(r, "GET", "/a/5/w") == (by_str, {"s": "5"})
    assert find(r, "GET", "/a/5/q") == (by_path, {"p": "5/q"})
    # a static branch that fails deeper falls back to the parameter branch
    lit = r.add("/b/me/deep", h)
    prm = r.add("/b/{who}/shallow", h_kw)
    assert find(r, "GET", "/b/me/deep") == (lit, None)
    assert find(r, "GET", "/b/me/shallow") == (prm, {"who": "me"})


def test_method_aware_fallback_to_lower_precedence_route():
    r = Router()
    me = r.add("/users/me", h)
    delete = r.add("/users/{id}", h_kw, "DELETE")
    assert find(r, "GET", "/users/me") == (me, None)
    assert find(r, "DELETE", "/users/me") == (delete, {"id": "me"})
    found, allowed = find(r, "POST", "/users/me")
    assert found is None and allowed == ("GET", "HEAD", "DELETE")


def test_many_static_siblings_use_the_dict():
    r = Router()
    routes = {i: r.add(f"/s{i}/{{id:int}}", h_kw) for i in range(20)}
    for i, route in routes.items():
        assert find(r, "GET", f"/s{i}/{i}") == (route, {"id": i})
    assert find(r, "GET", "/s99/1") == (None, ())
    assert find(r, "GET", "/s1/x") == (None, ())


# ---------------------------------------------------------------- 404 / 405 / HEAD


def test_404_vs_405_and_allowed_order():
    r = Router()
    r.add("/items", h, ["POST", "get"])
    r.add("/items/{id:int}", h_kw, "DELETE")
    r.add("/items/{name}", h_kw, "PUT")
    assert find(r, "PATCH", "/items") == (None, ("GET", "HEAD", "POST"))
    # both /items/{id:int} and /items/{name} match "5": union of their methods
    assert find(r, "GET", "/items/5") == (None, ("PUT", "DELETE"))
    assert find(r, "GET", "/items/abc") == (None, ("PUT",))
    assert find(r, "GET", "/nothing") == (None, ())
    assert find(r, "GET", "/items/5/x") == (None, ())


def test_allowed_includes_static_and_dynamic_matches():
    r = Router()
    r.add("/p/me", h)
    r.add("/p/{who}", h_kw, "OPTIONS")
    r.add("/p/{rest:path}", h_kw, "PROPFIND")
    assert find(r, "POST", "/p/me") == (None, ("GET", "HEAD", "OPTIONS", "PROPFIND"))


def test_methods_are_case_sensitive_at_find():
    r = Router()
    r.add("/x", h, "get")
    assert find(r, "get", "/x") == (None, ("GET", "HEAD"))


def test_head_falls_back_to_get():
    r = Router()
    static = r.add("/s", h)
    dyn = r.add("/d/{id:int}", h_kw)
    rest = r.add("/p/{p:path}", h_kw)
    assert find(r, "HEAD", "/s") == (static, None)
    assert find(r, "HEAD", "/d/3") == (dyn, {"id": 3})
    assert find(r, "HEAD", "/p/a/b") == (rest, {"p": "a/b"})
    assert find(r, "POST", "/s") == (None, ("GET", "HEAD"))
    assert find(r, "POST", "/d/3") == (None, ("GET", "HEAD"))


def test_explicit_head_wins_in_either_order():
    for head_first in (False, True):
        r = Router()
        if head_first:
            head = r.add("/x", h, "HEAD")
            get = r.add("/x", h)
        else:
            get = r.add("/x", h)
            head = r.add("/x", h, "HEAD")
        assert find(r, "HEAD", "/x") == (head, None)
        assert find(r, "GET", "/x") == (get, None)
        assert find(r, "PUT", "/x") == (None, ("GET", "HEAD"))


def test_head_only_route_does_not_answer_get():
    r = Router()
    r.add("/x/{id}", h_kw, "HEAD")
    assert find(r, "GET", "/x/1") == (None, ("HEAD",))


def test_find_argument_types_and_odd_paths():
    r = Router()
    r.add("/{p:path}", h_kw)
    r.add("/s", h)
    with pytest.raises(TypeError):
        find(r, "GET", None)
    with pytest.raises(TypeError):
        find(r, None, "/s")
    with pytest.raises(TypeError):
        find(r, "GET", b"/s")
    assert find(r, "GET", "") == (None, ())
    assert find(r, "GET", "*") == (None, ())
    assert find(r, "GET", "s") == (None, ())


# ---------------------------------------------------------------- unicode


def test_unicode_segments():
    r = Router()
    latin = r.add("/café", h)
    cjk = r.add("/日本/{city}", h_kw)
    emoji = r.add("/🐱/{id:int}/{rest:path}", h_kw)
    mixed = r.add("/ü/{name}/ñ", h_kw)
    assert find(r, "GET", "/café") == (latin, None)
    assert find(r, "GET", "/cafe") == (None, ())
    assert find(r, "GET", "/日本/東京") == (cjk, {"city": "東京"})
    assert find(r, "GET", "/日本/paris") == (cjk, {"city": "paris"})
    assert find(r, "GET", "/🐱/3/ä/😀") == (emoji, {"id": 3, "rest": "ä/😀"})
    assert find(r, "GET", "/ü/🐍/ñ") == (mixed, {"name": "🐍"})
    assert find(r, "GET", "/ü/x/n") == (None, ())
    # many unicode siblings go through the dict lookup
    many = {w: r.add(f"/{w}/{{x}}", h_kw) for w in ("α", "β", "γ", "δ", "ε", "ζ", "η", "θ", "ι", "κ")}
    assert find(r, "GET", "/θ/🐍") == (many["θ"], {"x": "🐍"})


# ---------------------------------------------------------------- prefixes & include


def test_router_prefix():
    r = Router("/api")
    assert r.prefix == "/api"
    users = r.add("/users", h)
    root = r.add("", h)
    slash = r.add("/", h)
    assert users.path == "/api/users" and root.path == "/api" and slash.path == "/api/"
    assert find(r, "GET", "/api/users") == (users, None)
    assert find(r, "GET", "/api") == (root, None)
    assert find(r, "GET", "/api/") == (slash, None)
    assert find(r, "GET", "/users") == (None, ())


def test_prefix_with_parameter():
    r = Router("/orgs/{org}")
    route = r.add("/repos/{id:int}", h_kw)
    assert route.param_names == ("org", "id")
    assert find(r, "GET", "/orgs/acme/repos/3") == (route, {"org": "acme", "id": 3})


@pytest.mark.parametrize("prefix", ["api", "/api/", "/", "/a{b", "/a/{x:nope}"])
def test_bad_router_prefix(prefix):
    with pytest.raises(RouteError, match=re.escape(repr(prefix))):
        Router(prefix)


def test_relative_path_rejected():
    with pytest.raises(RouteError, match="'users'"):
        Router("/api").add("users", h)
    with pytest.raises(RouteError, match="''"):
        Router().add("", h)


def test_include_groups_nested():
    comments = Router("/comments")
    comment = comments.add("/{cid:int}", h_kw, name="comment")

    posts = Router("/posts")
    post_list = posts.add("", h, ["GET", "POST"], name="posts")
    posts.include(comments, "/{pid:int}")

    api = Router("/api")
    api.include(posts, "/v1")
    api.add("/health", h, name="health")

    paths = sorted(route.path for route in api.routes)
    assert paths == ["/api/health", "/api/v1/posts", "/api/v1/posts/{pid:int}/comments/{cid:int}"]
    found, params = find(api, "GET", "/api/v1/posts/4/comments/9")
    assert params == {"pid": 4, "cid": 9}
    assert found.endpoint is h_kw and found.name == "comment" and found.params_as_kwargs
    assert found is not comment   # a copy carrying the full path
    found, params = find(api, "POST", "/api/v1/posts")
    assert found.methods == ("GET", "POST") and found.endpoint is h and params is None
    assert find(api, "DELETE", "/api/v1/posts") == (None, ("GET", "HEAD", "POST"))
    # the included routers keep working on their own
    assert find(comments, "GET", "/comments/1") == (comment, {"cid": 1})
    assert find(posts, "GET", "/posts") == (post_list, None)
    assert api.url_path_for("comment", pid=1, cid=2) == "/api/v1/posts/1/comments/2"


def test_include_without_prefix_and_snapshot():
    child = Router()
    child.add("/a", h)
    parent = Router()
    parent.include(child)
    child.add("/b", h)   # added after the include: not mounted
    found, params = find(parent, "GET", "/a")
    assert found.path == "/a" and found.endpoint is h and params is None
    assert find(parent, "GET", "/b") == (None, ())


def test_include_recomputes_params_as_kwargs():
    def only_id(request, id):
        return id

    child = Router()
    child.add("/{id}", only_id)
    assert child.routes[0].params_as_kwargs
    parent = Router()
    parent.include(child, "/t/{tenant}")
    assert parent.routes[0].param_names == ("tenant", "id")
    assert not parent.routes[0].params_as_kwargs   # only_id does not accept tenant


def test_include_is_all_or_nothing():
    parent = Router()
    parent.add("/g/b/{x}", h_kw)
    child = Router()
    child.add("/a", h)
    child.add("/b/{y}", h_kw)   # same shape as parent's /g/b/{x}
    with pytest.raises(RouteError, match=re.escape("'/g/b/{y}'")):
        parent.include(child, "/g")
    assert find(parent, "GET", "/g/a") == (None, ())
    assert len(parent.routes) == 1


def test_include_bad_prefix_and_duplicate_param():
    child = Router()
    child.add("/{id}", h_kw)
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
    r.add("/a", h)
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
        r.add(path, h_kw)
    message = str(info.value)
    assert fragment in message
    assert repr(path) in message
    assert isinstance(info.value, ValueError)
    assert r.routes == []
    # a Route made directly is checked the same way, when it is made
    with pytest.raises(RouteError) as info:
        Route(path, h_kw)
    assert str(info.value) == message


def test_too_many_params():
    path = "".join(f"/{{p{i}}}" for i in range(33))
    with pytest.raises(RouteError, match="more than 32 parameters"):
        Router().add(path, h_kw)
    with pytest.raises(RouteError, match="more than 32 parameters"):
        Route(path, h_kw)
    ok = "".join(f"/{{p{i}}}" for i in range(32))
    r = Router()
    route = r.add(ok, h_kw)
    found, params = find(r, "GET", "".join(f"/v{i}" for i in range(32)))
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
        r.add("/m", h, methods)
    assert fragment in str(info.value) and "'/m'" in str(info.value)
    assert r.routes == []
    with pytest.raises(RouteError) as from_route:
        Route("/m", h, methods)
    assert str(from_route.value) == str(info.value)


def test_method_type_errors_and_normalisation():
    r = Router()
    with pytest.raises(TypeError, match="'/m'"):
        r.add("/m", h, 5)
    with pytest.raises(TypeError, match="'/m'"):
        r.add("/m", h, ["GET", 5])
    with pytest.raises(TypeError, match="'/m'"):
        Route("/m", h, ["GET", 5])
    route = r.add("/m", h, ("get", "Post", "GET"))
    assert route.methods == ("GET", "POST")
    assert all(m == m.upper() for m in KNOWN_METHODS)
    webdav = r.add("/dav", h, "propfind")
    assert webdav.methods == ("PROPFIND",)


def test_endpoint_must_be_callable_and_name_non_empty():
    r = Router()
    for make in (r.add, Route):
        with pytest.raises(TypeError, match="'/x': endpoint must be callable, got 42"):
            make("/x", 42)
        with pytest.raises(TypeError, match="'/x': endpoint must be callable, got the str 'nope'"):
            make("/x", "nope")
        with pytest.raises(RouteError, match="'/x'"):
            make("/x", h, name="")
        with pytest.raises(TypeError):
            make("/x", h, name=5)
    assert r.routes == []


# ---------------------------------------------------------------- conflicts


@pytest.mark.parametrize("first, second", [
    ("/x", "/x"),
    ("/u/{id}", "/u/{uid}"),
    ("/u/{id:str}", "/u/{other}"),
    ("/u/{id:int}/a", "/u/{n:int}/a"),
    ("/f/{a:float}", "/f/{b:float}"),
    ("/g/{a:uuid}", "/g/{b:uuid}"),
    ("/s/{a:signed_int}", "/s/{b:signed_int}"),
    ("/d/{a:signed_float}/x", "/d/{b:signed_float}/x"),
    ("/p/{a:path}", "/p/{b:path}"),
    ("/t/{a}/", "/t/{b}/"),
])
def test_conflicts(first, second):
    r = Router()
    r.add(first, h_kw)
    with pytest.raises(RouteError) as info:
        r.add(second, h_kw, ["POST", "GET"])
    message = str(info.value)
    assert "conflict" in message and repr(second) in message and repr(first) in message
    # nothing of the failed add was registered (POST included)
    assert len(r.routes) == 1
    sample = second.replace("{a:float}", "1.5").replace("{b:float}", "1.5")
    sample = re.sub(r"\{[a-z]+:uuid\}", str(uuid.uuid4()), sample)
    sample = re.sub(r"\{[a-z]+(:[a-z_]+)?\}", "7", sample)
    assert find(r, "POST", sample) == (None, ("GET", "HEAD"))


def test_no_conflict_for_other_methods_or_converters():
    r = Router()
    r.add("/u/{id}", h_kw)
    r.add("/u/{uid}", h_kw, "POST")        # other method on the same shape
    r.add("/u/{id:int}", h_kw)      # other converter
    r.add("/u/{id:signed_int}", h_kw)
    r.add("/u/{id:signed_float}", h_kw)
    r.add("/u/{p:path}", h_kw)
    r.add("/u/me", h)
    r.add("/u/{id}/", h_kw)         # trailing slash: other shape
    r.add("/u/{id}", h_kw, "HEAD")         # explicit HEAD beside GET is fine
    assert len(r.routes) == 9
    assert find(r, "POST", "/u/5")[0].param_names == ("uid",)
    with pytest.raises(RouteError, match="conflict"):
        r.add("/u/{x}", h_kw, "HEAD")


def test_conflict_via_prefix():
    r = Router("/api")
    r.add("/x/{a}", h_kw)
    with pytest.raises(RouteError, match=re.escape("'/api/x/{b}'")):
        r.add("/x/{b}", h_kw)


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
    assert r.add("/a/{id}", named).params_as_kwargs
    assert r.add("/b/{id}/{slug}", var_kw).params_as_kwargs
    assert not r.add("/c/{id}", no_params).params_as_kwargs
    assert not r.add("/d/{id}/{slug}", partly).params_as_kwargs
    assert r.add("/e/{id}", keyword_only).params_as_kwargs
    assert r.add("/e2/{id}/{slug}", keyword_only).params_as_kwargs
    assert not r.add("/f/{id}", needs_extra).params_as_kwargs
    assert not r.add("/g/{id}", positional_only).params_as_kwargs
    # a route without parameters never gets keyword arguments
    assert not r.add("/static", var_kw).params_as_kwargs
    # partials, callable objects, bound methods
    assert r.add("/h/{id}", functools.partial(named)).params_as_kwargs
    # partial(named, id=1) has the signature (request, *, id=1)
    assert r.add("/i/{id}", functools.partial(named, id=1)).params_as_kwargs
    assert not r.add("/i2/{slug}", functools.partial(named, id=1)).params_as_kwargs

    class View:
        def __call__(self, request, id):
            return id

        def method(self, request, id):
            return id

    assert r.add("/j/{id}", View()).params_as_kwargs
    assert r.add("/k/{id}", View().method).params_as_kwargs
    assert not r.add("/l/{slug}", View().method).params_as_kwargs

    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self, request):
            return None

    assert not r.add("/m/{id}", NoSignature()).params_as_kwargs


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
    assert r.add("/1", coro).is_async
    assert not r.add("/2", sync).is_async
    assert r.add("/3", functools.partial(coro)).is_async
    assert r.add("/4", functools.partial(functools.partial(coro))).is_async
    assert r.add("/5", AsyncCallable()).is_async
    assert r.add("/6", functools.partial(AsyncCallable())).is_async
    assert not r.add("/7", SyncCallable()).is_async
    assert r.add("/8", Methods().a).is_async
    assert not r.add("/9", Methods().s).is_async
    assert not r.add("/10", lambda request: None).is_async
    # calling the class builds an instance, not a coroutine
    assert not r.add("/11", AsyncCallable).is_async
    assert not r.add("/12", print).is_async


def test_route_attributes_and_names():
    async def show_user(request, id):
        return id

    r = Router("/api")
    route = r.add("/users/{id:int}", show_user, ["get", "post"])
    assert isinstance(route, Route)
    assert route.path == "/api/users/{id:int}"
    assert route.methods == ("GET", "POST")
    assert route.endpoint is show_user
    assert route.is_async and route.params_as_kwargs
    assert route.param_names == ("id",)
    assert route.name == "show_user"
    assert r.add("/p", functools.partial(show_user, id=1)).name == "show_user"
    assert r.add("/n", h, name="custom").name == "custom"

    class Callable:
        def __call__(self, request):
            return None

    assert r.add("/c", Callable()).name == "Callable"
    assert "show_user" in repr(route) and "/api/users/{id:int}" in repr(route)
    with pytest.raises(AttributeError):
        route.path = "/other"
    # a registered route cannot be re-initialised under the router holding it
    with pytest.raises(TypeError, match="read-only"):
        route.__init__("/other", h)
    assert route.path == "/api/users/{id:int}" and route.endpoint is show_user
    assert find(r, "GET", "/api/users/3") == (route, {"id": 3})


def test_routes_property_is_a_copy_in_order():
    r = Router()
    a = r.add("/a", h)
    b = r.add("/b/{x}", h_kw)
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
        route, params = find(r, verb.upper(), f"/{verb}")
        assert route.methods == (verb.upper(),) and route.name == f"n_{verb}" and params is None

    @r.route("/multi", methods=["PUT", "PATCH"])
    def multi(request):
        return None

    assert find(r, "PATCH", "/multi")[0].endpoint is multi
    assert find(r, "GET", "/multi") == (None, ("PUT", "PATCH"))

    @r.route("/default")
    def default(request):
        return None

    assert find(r, "GET", "/default")[0].methods == ("GET",)

    with pytest.raises(RouteError, match="'/bad{'"):
        r.get("/bad{")(endpoint)


def test_router_subclass_keeps_working():
    class AppRouter(Router):
        def extra(self):
            return len(self.routes)

    r = AppRouter("/x")
    route = r.add("/{id:int}", h_kw)
    assert find(r, "GET", "/x/3") == (route, {"id": 3})
    assert r.extra() == 1


def test_include_answers_under_prefix_and_names_resolve():
    child = Router("/items")
    listing = child.add("", h, name="items")
    item = child.add("/{id:int}", h_kw, ["GET", "DELETE"], name="item")
    for parent in (Router("/api"), type("AppRouter", (Router,), {})("/api")):
        parent.include(child, "/v1")
        found, params = find(parent, "GET", "/api/v1/items/7")
        assert found.path == "/api/v1/items/{id:int}" and found.endpoint is h_kw
        assert found.methods == ("GET", "DELETE") and params == {"id": 7}
        assert find(parent, "HEAD", "/api/v1/items")[0].endpoint is h
        assert find(parent, "POST", "/api/v1/items/7") == (None, ("GET", "HEAD", "DELETE"))
        # only under the prefix: not at the child's own paths
        assert find(parent, "GET", "/items/7") == (None, ())
        assert find(parent, "GET", "/v1/items/7") == (None, ())
        assert parent.url_path_for("items") == "/api/v1/items"
        assert parent.url_path_for("item", id=7) == "/api/v1/items/7"
    # the child keeps its own routes and names
    assert find(child, "GET", "/items/7") == (item, {"id": 7})
    assert child.url_path_for("items") == "/items" and listing.path == "/items"


# ---------------------------------------------------------------- Match


def test_match_fields_for_hit_404_and_405():
    r = Router()
    static = r.add("/s", h)
    dyn = r.add("/d/{id:int}", h_kw, ["GET", "PUT"])
    m = r.find("GET", "/s")
    assert type(m) is Match
    assert (m.route, m.params, m.allowed) == (static, None, ())
    m = r.find("PUT", "/d/5")
    assert (m.route, m.params, m.allowed) == (dyn, {"id": 5}, ())
    m = r.find("HEAD", "/d/5")   # HEAD answered by the GET route
    assert (m.route, m.params, m.allowed) == (dyn, {"id": 5}, ())
    m = r.find("GET", "/missing")
    assert (m.route, m.params, m.allowed) == (None, None, ())
    m = r.find("DELETE", "/d/5")
    assert (m.route, m.params, m.allowed) == (None, None, ("GET", "HEAD", "PUT"))
    assert repr(m) == "<Match allowed=('GET', 'HEAD', 'PUT')>"
    assert repr(r.find("GET", "/d/5")) == f"<Match {dyn!r} params={{'id': 5}}>"
    # each find() gives its own result: a kept Match does not change later
    first, second = r.find("GET", "/d/1"), r.find("GET", "/d/2")
    assert first is not second and first.params == {"id": 1} and second.params == {"id": 2}


def test_match_is_read_only_and_made_by_find_only():
    m = Router().find("GET", "/")
    for field in ("route", "params", "allowed"):
        with pytest.raises(AttributeError):
            setattr(m, field, None)
    with pytest.raises(TypeError, match="Router.find"):
        Match()
    with pytest.raises(TypeError):
        class Sub(Match):
            pass


# ---------------------------------------------------------------- Route objects, Router(routes=...)


def test_route_made_directly():
    async def show(request, id):
        return id

    route = Route("/users/{id:int}", show, ["get", "post", "GET"], name="user")
    assert route.path == "/users/{id:int}" and route.endpoint is show
    assert route.methods == ("GET", "POST") and route.name == "user"
    assert route.param_names == ("id",) and route.is_async and route.params_as_kwargs
    plain = Route("/", h)
    assert plain.methods == ("GET",) and plain.name == "h" and plain.param_names == ()
    assert not plain.is_async and not plain.params_as_kwargs
    assert Route(path="/k", endpoint=h, methods="delete").methods == ("DELETE",)
    with pytest.raises(TypeError, match="read-only"):
        plain.__init__("/other", h_kw)
    assert plain.path == "/" and plain.endpoint is h


def test_router_routes_argument():
    a = Route("/a", h, name="a")
    b = Route("/b/{id:int}", h_kw, ["GET", "POST"], name="b")
    r = Router(routes=[a, b])
    assert r.routes == [a, b]   # registered as they are, in order
    assert find(r, "GET", "/a") == (a, None)
    assert find(r, "POST", "/b/2") == (b, {"id": 2})
    assert find(r, "PUT", "/b/2") == (None, ("GET", "HEAD", "POST"))
    assert r.url_path_for("b", id=4) == "/b/4"
    # under a prefix: copies carrying it; the Route objects themselves are unchanged
    api = Router("/api", routes=(route for route in (a, b)))
    copy_a, copy_b = api.routes
    assert copy_a.path == "/api/a" and copy_b.path == "/api/b/{id:int}"
    assert copy_b.endpoint is h_kw and copy_b.methods == ("GET", "POST") and copy_b.name == "b"
    assert a.path == "/a" and b.path == "/b/{id:int}"
    assert find(api, "POST", "/api/b/2") == (copy_b, {"id": 2})
    assert find(api, "GET", "/b/2") == (None, ())
    assert api.url_path_for("a") == "/api/a"
    assert Router(routes=None).routes == [] and Router(routes=[]).routes == []


def test_router_routes_argument_errors():
    a = Route("/a/{x}", h_kw)
    with pytest.raises(RouteError, match="conflict"):
        Router(routes=[a, Route("/a/{y}", h_kw)])
    with pytest.raises(TypeError, match=r"Router\(routes=\[\.\.\.\]\)"):
        Router([a])            # Starlette puts routes first; here prefix comes first
    with pytest.raises(TypeError, match="needs a Route"):
        Router(routes=[h])
    with pytest.raises(TypeError, match="needs a Route"):
        Router(routes=[Route.__new__(Route)])   # never initialised


def test_add_route():
    r = Router()
    route = Route("/x/{id}", h_kw, ["GET", "HEAD"], name="x")
    assert r.add_route(route) is route
    assert find(r, "HEAD", "/x/1") == (route, {"id": "1"})
    assert r.url_path_for("x", id="1") == "/x/1"
    # the same shape and method again: refused, nothing registered
    with pytest.raises(RouteError, match="conflict"):
        r.add_route(Route("/x/{other}", h_kw, ["POST", "GET"]))
    assert r.routes == [route] and find(r, "POST", "/x/1") == (None, ("GET", "HEAD"))
    # one Route may serve several routers
    prefixed = Router("/v2")
    copy = prefixed.add_route(route)
    assert copy is not route and copy.path == "/v2/x/{id}" and prefixed.routes == [copy]
    assert find(prefixed, "GET", "/v2/x/9") == (copy, {"id": "9"})
    with pytest.raises(TypeError, match="needs a Route"):
        r.add_route("/y")


# ---------------------------------------------------------------- argument order


@pytest.mark.parametrize("args, fragment", [
    (("GET", "/x", h), "path 'GET' is an HTTP method"),
    (("get", "/x", h), "path 'get' is an HTTP method"),
    (("PURGE", "/x", h), "route 'PURGE': endpoint must be callable, got the str '/x'"),
    ((["GET", "POST"], "/x", h), "path must be a str, got ['GET', 'POST']"),
    ((("GET",), "/x", h), "path must be a str, got ('GET',)"),
    (("POST", h), "path 'POST' is an HTTP method"),
])
def test_former_argument_order_is_a_type_error(args, fragment):
    r = Router()
    with pytest.raises(TypeError) as info:
        r.add(*args)
    message = str(info.value)
    assert fragment in message and "(path, endpoint, methods=...)" in message
    assert message.startswith("Router.add: ")
    with pytest.raises(TypeError) as info:
        Route(*args)
    assert str(info.value) == message.replace("Router.add: ", "Route: ", 1)
    assert r.routes == []
    # the decorators pass the path through: a method as path is caught there too
    with pytest.raises(TypeError, match="is an HTTP method"):
        r.route("GET", "/x")(h)
    with pytest.raises(TypeError, match="is an HTTP method"):
        Catzilla().route("GET", "/x")(h)


def test_new_argument_order_and_defaults():
    r = Router("/api")
    route = r.add("/u/{id}", h_kw)
    assert route.methods == ("GET",) and route.path == "/api/u/{id}"
    assert r.add(path="/v", endpoint=h, methods=["PUT"], name="v").methods == ("PUT",)
    with pytest.raises(TypeError):
        r.add("/w", h, "GET", "w")   # name is keyword-only
    # a relative path is still a pattern error, not an argument-order one
    with pytest.raises(RouteError, match="must start with '/'"):
        r.add("users", h)


# ---------------------------------------------------------------- decorators on Router and app


VERBS = ("get", "post", "put", "patch", "delete", "head", "options")


def test_app_has_the_router_decorators():
    app = Catzilla()
    for verb in VERBS:
        def endpoint(request):
            return None

        assert getattr(app, verb)(f"/{verb}", name=f"n_{verb}")(endpoint) is endpoint
        assert find(app.router, verb.upper(), f"/{verb}")[0].endpoint is endpoint
    assert [(route.methods, route.name) for route in app.router.routes] == [
        ((verb.upper(),), f"n_{verb}") for verb in VERBS]


@pytest.mark.parametrize("hooks", [False, True], ids=["fast-path", "with-hooks"])
def test_app_head_through_the_server(hooks):
    app = Catzilla()
    if hooks:   # hooks send the request through app._handle instead of the compiled fast path
        app.before_request(lambda request: None)

    @app.get("/page")
    def page(request):
        return "full page"

    @app.head("/page")
    def page_head(request):
        return Response("", headers={"X-Handler": "explicit-head"})

    @app.get("/only-get/{n:int}")
    def only_get(request, n):
        return Response(f"get {n}", headers={"X-Handler": "get"})

    @app.head("/only-head")
    def only_head(request):
        return Response("", headers={"X-Handler": "head"})

    with TestClient(app) as client:
        r = client.head("/page")
        assert r.status_code == 200 and r.headers["x-handler"] == "explicit-head" and r.content == b""
        r = client.get("/page")
        assert r.status_code == 200 and r.text == "full page" and "x-handler" not in r.headers
        # without an explicit HEAD route the GET route answers, without a body
        r = client.head("/only-get/4")
        assert r.status_code == 200 and r.headers["x-handler"] == "get" and r.content == b""
        assert r.headers["content-length"] == "5"
        r = client.get("/only-head")
        assert r.status_code == 405 and r.headers["allow"] == "HEAD"
        assert client.head("/only-head").headers["x-handler"] == "head"
        r = client.post("/page")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        assert client.get("/nothing").status_code == 404


# ---------------------------------------------------------------- url_path_for


def test_url_path_for_basic_and_converters():
    r = Router("/api")
    r.add("/", h, name="home")
    r.add("/users/{id:int}/posts/{slug}", h_kw, name="post")
    r.add("/f/{x:float}", h_kw, name="f")
    r.add("/u/{uid:uuid}", h_kw, name="u")
    r.add("/files/{rest:path}", h_kw, name="file")
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


def test_url_path_for_signed_converters_round_trips():
    r = Router()
    r.add("/n/{n:signed_int}", h_kw, name="n")
    r.add("/t/{deg:signed_float}", h_kw, name="t")
    assert r.url_path_for("n", n=-5) == "/n/-5"
    assert r.url_path_for("n", n=5) == "/n/5"
    assert r.url_path_for("n", n="-7") == "/n/-7"
    assert r.url_path_for("t", deg=-1.5) == "/t/-1.5"
    assert r.url_path_for("t", deg=-1e-7) == "/t/-0.0000001"
    assert r.url_path_for("t", deg=-0.0) == "/t/-0.0"
    assert r.url_path_for("t", deg=-3) == "/t/-3"
    for name, key, value in (("n", "n", -12345678901234567890), ("n", "n", 0), ("t", "deg", -2.5),
                             ("t", "deg", -0.0), ("t", "deg", 1e20)):
        got = find(r, "GET", r.url_path_for(name, **{key: value}))[1][key]
        assert got == value and type(got) is type(value)
        assert math.copysign(1.0, got) == math.copysign(1.0, value)


def test_signed_converters_through_the_app():
    app = Catzilla()

    @app.get("/at/{lat:signed_float}/{lon:signed_float}/{floor:signed_int}")
    def at(request, lat, lon, floor):
        return {"lat": lat, "lon": lon, "floor": floor}

    with TestClient(app) as client:
        assert client.get("/at/-33.86/151.2/-2").json() == {"lat": -33.86, "lon": 151.2, "floor": -2}
        assert client.get("/at/%2D1.5/0/0").json() == {"lat": -1.5, "lon": 0.0, "floor": 0}   # decoded first
        assert client.get("/at/+1.5/0/0").status_code == 404
        assert app.url_path_for("at", lat=-1.5, lon=2, floor=-1) == "/at/-1.5/2/-1"


def test_url_path_for_quotes_and_round_trips():
    r = Router()
    r.add("/café/{name}/{rest:path}", h_kw, name="x")
    url = r.url_path_for("x", name="a b%c?#é", rest="d/e f")
    assert url == "/caf%C3%A9/a%20b%25c%3F%23%C3%A9/d/e%20f"
    found, params = find(r, "GET", unquote(url))
    assert found.name == "x" and params == {"name": "a b%c?#é", "rest": "d/e f"}


def test_url_path_for_param_called_name_and_shared_names():
    r = Router()
    r.add("/tags/{name}", h_kw, name="tag")
    r.add("/tags/{name}/{page:int}", h_kw, name="tag")
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
    ("sn", {"n": "+5"}, "does not match the signed_int converter"),
    ("sn", {"n": "--5"}, "does not match the signed_int converter"),
    ("sn", {"n": 1.0}, "needs an int"),
    ("sf", {"x": float("-inf")}, "does not match the signed_float converter"),
    ("sf", {"x": "-1e5"}, "does not match the signed_float converter"),
    ("sf", {"x": None}, "needs a float"),
])
def test_url_path_for_errors(name, params, fragment):
    r = Router()
    r.add("/users/{id:int}/posts/{slug}", h_kw, name="post")
    r.add("/f/{x:float}", h_kw, name="f")
    r.add("/u/{uid:uuid}", h_kw, name="u")
    r.add("/files/{rest:path}", h_kw, name="file")
    r.add("/sn/{n:signed_int}", h_kw, name="sn")
    r.add("/sf/{x:signed_float}", h_kw, name="sf")
    with pytest.raises(RouteError, match=re.escape(fragment)):
        r.url_path_for(name, **params)


# ---------------------------------------------------------------- differential check


_RANK = {"static": 0, "int": 1, "signed_int": 2, "float": 3, "signed_float": 4, "uuid": 5, "str": 6, "path": 7}
_REGEX = {
    "int": "[0-9]+",
    "signed_int": "-?[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "signed_float": r"-?[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "str": "[^/]+",
    "path": ".+",
}
_UUID_TEXT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


class _Reference:
    """Brute force: test every pattern's regex; the precedence is the
    lexicographic order of the per-segment ranks (literal < int < signed_int <
    float < signed_float < uuid < str < path), which is the order the tree
    search visits routes."""

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
            convert = {"int": int, "signed_int": int, "float": float, "signed_float": float,
                       "uuid": uuid.UUID, "str": str, "path": str}
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
    kinds = ["static"] * 5 + ["int", "signed_int", "float", "signed_float", "uuid", "str", "path"]
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
    values = ["a", "b", "users", "é", "日本", "5", "007", "3.5", "1.", _UUID_TEXT, "x y", "🐍",
              "-5", "-0", "-3.5", "-", "+5", "--1"]
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
                route = router.add(pattern, h_kw, chosen)
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
            assert find(router, method, path) == ref.find(method, path), (round_, method, path)
