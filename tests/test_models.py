"""The model engine (catzilla/models.pyx): BaseModel and Field, codecs, every error in pydantic
v2's shape, the JSON encoder, JSON Schema. pydantic (the `test` extra) is the reference the
error tests compare against where the two engines see the same input."""
import dataclasses
import datetime
import decimal
import enum
import json
import sys
import types
import uuid
from typing import Annotated, Literal, Optional, TypedDict

import msgspec
import pytest

from catzilla import BaseModel, Field
from catzilla.models import ValidationError, codec, encode_json, is_model, json_schema

pydantic = pytest.importorskip("pydantic")


class Customer(BaseModel):
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]-[0-9]+$")
    qty: int = Field(ge=1, le=1000)
    price: float = Field(gt=0)


class Order(BaseModel):
    customer: Customer
    items: list[Item] = Field(min_length=1, max_length=100)
    note: Optional[str] = None
    express: bool = False


def _pydantic_orders():
    # the same models in pydantic, under the same class names (errors carry them in ctx)
    class Customer(pydantic.BaseModel):
        id: int = pydantic.Field(ge=1)
        name: str = pydantic.Field(min_length=1, max_length=100)
        email: str = pydantic.Field(pattern=r"^[^@\s]+@[^@\s]+$")

    class Item(pydantic.BaseModel):
        sku: str = pydantic.Field(pattern=r"^[A-Z]-[0-9]+$")
        qty: int = pydantic.Field(ge=1, le=1000)
        price: float = pydantic.Field(gt=0)

    class Order(pydantic.BaseModel):
        customer: Customer
        items: list[Item] = pydantic.Field(min_length=1, max_length=100)
        note: Optional[str] = None
        express: bool = False

    return Customer, Item, Order


PCustomer, PItem, POrder = _pydantic_orders()


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"
    BLUE = "b"


class Kinds(BaseModel, forbid_unknown_fields=True):
    c: Color
    lit: Literal["a", "b"]
    u: uuid.UUID
    d: datetime.date
    dt: datetime.datetime
    dec: decimal.Decimal
    f: float
    i: int
    m: int = Field(multiple_of=3)
    s: str = Field(max_length=2)
    tags: list[str] = Field(max_length=1)
    mp: dict[str, int]
    both: int | str


class PKinds(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    c: Color
    lit: Literal["a", "b"]
    u: uuid.UUID
    d: datetime.date
    dt: datetime.datetime
    dec: decimal.Decimal
    f: float
    i: int
    m: int = pydantic.Field(multiple_of=3)
    s: str = pydantic.Field(max_length=2)
    tags: list[str] = pydantic.Field(max_length=1)
    mp: dict[str, int]
    both: int | str


GOOD = {"customer": {"id": 7, "name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": f"A-{i}", "qty": i + 1, "price": 2.5} for i in range(10)]}


def errors_of(call, *args):
    with pytest.raises(ValidationError) as info:
        call(*args)
    return info.value.errors()


def pydantic_errors(model, data):
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate_json(data)
    return info.value.errors(include_url=False)


# -- BaseModel ----------------------------------------------------------------------------------

def test_model_validate_json_builds_nested_models():
    order = Order.model_validate_json(json.dumps(GOOD))
    assert isinstance(order, msgspec.Struct) and isinstance(order.customer, Customer)
    assert [it.sku for it in order.items] == [f"A-{i}" for i in range(10)]
    assert (order.note, order.express) == (None, False)
    assert Order.model_validate_json(json.dumps(GOOD).encode()) == order      # bytes and str


def test_model_validate_from_python_objects_with_pydantic_lax_rules():
    o = Order.model_validate({"customer": {"id": "7", "name": "Ada", "email": "a@b"},
                              "items": [{"sku": "A-1", "qty": 2.0, "price": "2.5"}], "express": "yes"})
    assert (o.customer.id, o.items[0].qty, o.items[0].price, o.express) == (7, 2, 2.5, True)
    assert Order.model_validate(o) is o


def test_model_dump_and_dump_json():
    o = Order.model_validate(GOOD)
    d = o.model_dump()
    assert d["customer"] == {"id": 7, "name": "Ada", "email": "ada@example.com"}
    assert d["items"][0] == {"sku": "A-0", "qty": 1, "price": 2.5} and d["note"] is None
    assert o.model_dump(exclude_none=True).keys() == {"customer", "items", "express"}
    assert o.model_dump(include={"express"}) == {"express": False}
    assert o.model_dump(exclude={"items", "note"}) == {"customer": d["customer"], "express": False}
    assert o.model_dump(include={"customer": {"id"}}) == {"customer": {"id": 7}}
    assert json.loads(o.model_dump_json()) == d
    assert json.loads(o.model_dump_json(exclude_none=True)) == o.model_dump(exclude_none=True)
    with pytest.raises(ValueError):
        o.model_dump(mode="xml")
    with pytest.raises(TypeError):
        o.model_dump(incl={"a"})


def test_dump_modes_and_aliases():
    class Event(BaseModel):
        event_id: uuid.UUID = Field(alias="eventId")
        at: datetime.datetime
        color: Color = Color.RED

    u = uuid.UUID(int=5)
    e = Event.model_validate({"eventId": str(u), "at": "2024-05-01T10:00:00+00:00"})
    assert e.event_id == u and e.at.year == 2024
    assert e.model_dump()["event_id"] == u
    assert e.model_dump(mode="json") == {"event_id": str(u), "at": "2024-05-01T10:00:00Z", "color": "r"}
    assert e.model_dump(by_alias=True, mode="json")["eventId"] == str(u)
    assert json.loads(e.model_dump_json()) == e.model_dump(mode="json")
    assert json.loads(e.model_dump_json(by_alias=True))["eventId"] == str(u)
    assert json.loads(encode_json(e))["eventId"] == str(u)        # responses use the wire names
    assert errors_of(Event.model_validate, {"event_id": str(u), "at": "2024-05-01T10:00:00Z"}) == [
        {"type": "missing", "loc": ("eventId",), "msg": "Field required",
         "input": {"event_id": str(u), "at": "2024-05-01T10:00:00Z"}}]


def test_nested_aliases_follow_by_alias():
    class Inner(BaseModel):
        inner_id: int = Field(alias="innerId")

    class Outer(BaseModel):
        inner: Inner
        items: list[Inner] = []

    o = Outer.model_validate({"inner": {"innerId": 1}, "items": [{"innerId": 2}]})
    assert json.loads(o.model_dump_json()) == {"inner": {"inner_id": 1}, "items": [{"inner_id": 2}]}
    assert json.loads(o.model_dump_json(by_alias=True)) == {"inner": {"innerId": 1}, "items": [{"innerId": 2}]}
    assert o.model_dump(by_alias=True)["items"] == [{"innerId": 2}]


def test_model_config_extra_forbid_and_frozen():
    class Strict(BaseModel):
        model_config = {"extra": "forbid", "frozen": True}
        a: int

    assert errors_of(Strict.model_validate_json, b'{"a": 1, "b": 2}') == [
        {"type": "extra_forbidden", "loc": ("b",), "msg": "Extra inputs are not permitted", "input": 2}]
    s = Strict(a=1)
    with pytest.raises(AttributeError):
        s.a = 2
    assert hash(s) == hash(Strict(a=1))


def test_fields_defaults_factories_and_model_fields():
    class Box(BaseModel):
        label: str = "box"
        tags: list[str] = Field(default=["a", "b"], description="labels")
        sizes: list[int] = Field(default_factory=lambda: [1])
        weight: int                            # required after defaults: keyword-only fields
        empty: dict[str, int] = {}

    a, b = Box(weight=1), Box(weight=2)
    assert a.tags == ["a", "b"] and a.tags is not b.tags and a.sizes == [1] and a.empty == {}
    a.tags.append("c")
    assert b.tags == ["a", "b"]
    with pytest.raises(TypeError):
        Box(1)                                 # positional: kw_only
    fields = Box.model_fields
    assert list(fields) == ["label", "tags", "sizes", "weight", "empty"]
    assert fields["weight"].is_required() and not fields["label"].is_required()
    assert not fields["tags"].is_required() and fields["tags"].default == ["a", "b"]
    assert not fields["sizes"].is_required() and fields["sizes"].default_factory() == [1]
    assert fields["tags"].description == "labels" and fields["weight"].annotation is int
    assert Box.model_validate({"weight": 3}).label == "box"


def test_model_copy():
    o = Order.model_validate(GOOD)
    c = o.model_copy(update={"note": "x"})
    assert (c.note, o.note, c.customer is o.customer) == ("x", None, True)
    deep = o.model_copy(deep=True)
    assert deep == o and deep.customer is not o.customer


def test_optional_fields_and_inheritance():
    class Base(BaseModel):
        a: int = Field(ge=0)

    class Child(Base):
        b: Optional[str] = None
        c: Optional[int]

    assert list(Child.model_fields) == ["a", "b", "c"]
    assert Child.model_validate({"a": 1, "c": None}) == Child(a=1, c=None)
    assert [e["type"] for e in errors_of(Child.model_validate, {"a": -1})] == ["greater_than_equal", "missing"]


def test_forward_references_and_future_annotations(monkeypatch):
    module = types.ModuleType("catzilla_test_forward_refs")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    ns = module.__dict__
    exec("from __future__ import annotations\n"
         "from typing import Optional\n"
         "from catzilla import BaseModel, Field\n"
         "class Node(BaseModel):\n"
         "    value: int = Field(ge=0)\n"
         "    children: list[Node] = []\n"
         "    parent: Optional[Node] = None\n", ns)
    Node = ns["Node"]
    n = Node.model_validate_json(b'{"value": 1, "children": [{"value": 2}]}')
    assert n.children[0].value == 2
    assert errors_of(Node.model_validate_json, b'{"value": 1, "children": [{"value": -2}]}') == [
        {"type": "greater_than_equal", "loc": ("children", 0, "value"),
         "msg": "Input should be greater than or equal to 0", "input": -2, "ctx": {"ge": 0}}]


def test_constraints_on_optional_fields_apply_to_the_value():
    class Profile(BaseModel):
        bio: Optional[str] = Field(None, max_length=3, description="about")
        age: int | None = Field(None, ge=0)

    assert Profile.model_validate({}) == Profile(bio=None, age=None)
    assert Profile.model_validate({"bio": None, "age": 3}).age == 3
    assert errors_of(Profile.model_validate, {"bio": "long", "age": -1}) == [
        {"type": "string_too_long", "loc": ("bio",), "msg": "String should have at most 3 characters", "input": "long",
         "ctx": {"max_length": 3}},
        {"type": "greater_than_equal", "loc": ("age",), "msg": "Input should be greater than or equal to 0",
         "input": -1, "ctx": {"ge": 0}}]
    prop = Profile.model_json_schema()["properties"]["bio"]
    assert prop == {"description": "about", "anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}],
                    "default": None}


def test_catzilla_023_and_pydantic_v1_spellings():
    # what a Catzilla 0.2.3 app wrote: Field(regex=, min_items=, max_items=), .dict(), .json(),
    # parse_obj/parse_raw, ValidationError("message") in __post_init__, attribute assignment
    from catzilla import ValidationError as Exported

    class User(BaseModel):
        username: str = Field(min_length=3, max_length=20, regex=r"^[a-zA-Z0-9_]+$")
        tags: list[str] = Field(default=[], min_items=0, max_items=2)
        age: int = Field(ge=13, le=120)

        def __post_init__(self):
            if "admin" in self.username and self.age < 21:
                raise Exported("admins must be at least 21")

    u = User.parse_obj({"username": "ada_l", "age": 30})
    assert u.dict() == {"username": "ada_l", "tags": [], "age": 30}
    assert json.loads(u.json()) == u.dict()
    assert User.parse_raw('{"username": "bob", "age": 20, "tags": ["a"]}').tags == ["a"]
    u.age = 31
    assert u.age == 31
    assert [e["type"] for e in errors_of(User.parse_obj, {"username": "a b", "age": 30, "tags": ["1", "2", "3"]})] \
        == ["string_pattern_mismatch", "too_long"]
    assert errors_of(User.parse_obj, {"username": "admin", "age": 15}) == [
        {"type": "value_error", "loc": (), "msg": "Value error, admins must be at least 21",
         "input": {"username": "admin", "age": 15}, "ctx": {"error": "admins must be at least 21"}}]
    assert Exported("plain").errors() == [{"type": "value_error", "loc": (), "msg": "plain", "input": None}]
    with pytest.raises(TypeError, match="pattern or regex"):
        Field(pattern="a", regex="b")


def test_string_annotations_resolve_where_the_class_is_defined():
    ns = {"__name__": "not_a_module"}         # exec'd, function-local classes: msgspec alone finds neither
    exec("from __future__ import annotations\n"
         "from catzilla import BaseModel, Field\n"
         "def make():\n"
         "    class Leaf(BaseModel):\n"
         "        v: int = Field(ge=0)\n"
         "    class Tree(BaseModel):\n"
         "        leaves: list[Leaf]\n"
         "    return Tree\n", ns)
    Tree = ns["make"]()
    assert Tree.model_validate_json(b'{"leaves": [{"v": 1}]}').leaves[0].v == 1
    assert errors_of(Tree.model_validate_json, b'{"leaves": [{"v": -1}]}')[0]["loc"] == ("leaves", 0, "v")


def test_definition_mistakes_raise_at_class_definition_naming_the_field():
    with pytest.raises(TypeError, match=r"model Bad, field 'when'"):
        class Bad(BaseModel):
            ok: int
            when: object.__new__            # not a type msgspec can validate
    with pytest.raises(TypeError, match=r"Worse.*'x'.*ge"):
        class Worse(BaseModel):
            x: str = Field(ge=1)            # a numeric bound on a string
    with pytest.raises(TypeError, match=r"Odd\.blob: the default .* cannot be a model default"):
        class Odd(BaseModel):
            blob: int = object()
    with pytest.raises(TypeError, match="default or a default_factory"):
        Field(1, default_factory=list)


def test_is_model():
    @dataclasses.dataclass
    class DC:
        a: int

    class TD(TypedDict):
        a: int

    class S(msgspec.Struct):
        a: int

    for tp in (Order, S, DC, TD, POrder):
        assert is_model(tp), tp
    for tp in (int, dict, list[Item], Optional[Order], "Order", None):
        assert not is_model(tp), tp


# -- errors ---------------------------------------------------------------------------------------

def test_every_error_of_the_orders_body_as_pydantic_reports_it():
    bad = (b'{"customer":{"id":0,"name":"","email":"ab"},'
           b'"items":[{"sku":"x","qty":"z","price":0},{}],"express":"maybe"}')
    errors = errors_of(codec(Order).decode_json, bad)
    assert errors == [
        {"type": "greater_than_equal", "loc": ("customer", "id"), "msg": "Input should be greater than or equal to 1",
         "input": 0, "ctx": {"ge": 1}},
        {"type": "string_too_short", "loc": ("customer", "name"), "msg": "String should have at least 1 character",
         "input": "", "ctx": {"min_length": 1}},
        {"type": "string_pattern_mismatch", "loc": ("customer", "email"),
         "msg": "String should match pattern '^[^@\\s]+@[^@\\s]+$'", "input": "ab",
         "ctx": {"pattern": "^[^@\\s]+@[^@\\s]+$"}},
        {"type": "string_pattern_mismatch", "loc": ("items", 0, "sku"),
         "msg": "String should match pattern '^[A-Z]-[0-9]+$'", "input": "x", "ctx": {"pattern": "^[A-Z]-[0-9]+$"}},
        {"type": "int_parsing", "loc": ("items", 0, "qty"),
         "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "z"},
        {"type": "greater_than", "loc": ("items", 0, "price"), "msg": "Input should be greater than 0", "input": 0,
         "ctx": {"gt": 0.0}},
        {"type": "missing", "loc": ("items", 1, "sku"), "msg": "Field required", "input": {}},
        {"type": "missing", "loc": ("items", 1, "qty"), "msg": "Field required", "input": {}},
        {"type": "missing", "loc": ("items", 1, "price"), "msg": "Field required", "input": {}},
        {"type": "bool_parsing", "loc": ("express",), "msg": "Input should be a valid boolean, unable to interpret input",
         "input": "maybe"},
    ]
    assert errors == pydantic_errors(POrder, bad)


@pytest.mark.parametrize("body", [
    b'{"customer": 5, "items": []}',
    b'{"customer": [], "items": {}}',
    b'{"customer": {"id": 1001, "name": "' + b"n" * 101 + b'", "email": "a@b"}, "items": [' +
    b",".join([b'{"sku": "A-1", "qty": 1001, "price": -1}'] * 101) + b"]}",
    b'{"customer": {"id": 1, "name": 5, "email": null}, "items": [null, "x", 3], "note": 5, "express": 2}',
    b'{"c":"x","lit":"c","u":"abc","d":"2020-13-01","dt":"2020-01-01X","dec":"x","f":"a","i":1.5,"m":4,'
    b'"s":"abc","tags":["a","b"],"mp":{"a":"x"},"both":[],"zz":1}',
    b'{"c":1,"lit":1,"u":"12345678-1234-1234-1234-1234567890","d":"2020-02-30","dt":"x","dec":[],'
    b'"i":"1e","f":[],"m":"x","s":5,"tags":"a","mp":[],"both":1.5}',
    b'{"c":"r","lit":"a","u":"1234567g-1234-1234-1234-123456789012","d":"2020/01/01","dt":"2020-1-01",'
    b'"dec":"1.5","i":"12","f":"1.5","m":"9","s":"ab","tags":[],"mp":{"a":1},"both":"x"}',
])
def test_errors_match_pydantic(body):
    ours, theirs = (Kinds, PKinds) if b'"lit"' in body else (Order, POrder)
    assert errors_of(codec(ours).decode_json, body) == pydantic_errors(theirs, body)


def test_python_mode_words_and_strict_convert():
    c = codec(Order)
    assert errors_of(c.convert, {"customer": 5, "items": "x"}) == [
        {"type": "model_type", "loc": ("customer",), "msg": "Input should be a valid dictionary or instance of Customer",
         "input": 5, "ctx": {"class_name": "Customer"}},
        {"type": "list_type", "loc": ("items",), "msg": "Input should be a valid list", "input": "x"}]
    assert errors_of(codec(dict[str, int]).convert, [1]) == [
        {"type": "dict_type", "loc": (), "msg": "Input should be a valid dictionary", "input": [1]}]
    # without from_strings a str is not a number
    assert errors_of(codec(int).convert, "5") == [
        {"type": "int_type", "loc": (), "msg": "Input should be a valid integer", "input": "5"}]
    assert codec(int).convert("5", True) == 5


def test_from_strings_like_query_parameters():
    assert codec(list[int]).convert(["1", "2"], True) == [1, 2]
    for word, value in [("true", True), ("1", True), ("on", True), ("yes", True), ("Y", True),
                        ("false", False), ("0", False), ("off", False), ("no", False)]:
        assert codec(bool).convert(word, True) is value, word
    assert codec(Optional[float]).convert("2.5", True) == 2.5
    assert codec(Color).convert("g", True) is Color.GREEN
    assert codec(uuid.UUID).convert(str(uuid.UUID(int=3)), True) == uuid.UUID(int=3)
    assert codec(datetime.date).convert("2024-02-29", True) == datetime.date(2024, 2, 29)
    assert codec(decimal.Decimal).convert("1.10", True) == decimal.Decimal("1.10")
    assert codec(Literal[1, 2]).convert("2", True) == 2
    assert codec(Annotated[int, msgspec.Meta(ge=1, le=100)]).convert("100", True) == 100
    assert errors_of(codec(Annotated[int, msgspec.Meta(ge=1, le=100)]).convert, "101", True) == [
        {"type": "less_than_equal", "loc": (), "msg": "Input should be less than or equal to 100", "input": "101",
         "ctx": {"le": 100}}]
    assert errors_of(codec(list[int]).convert, ["1", "x", "3.5"], True) == [
        {"type": "int_parsing", "loc": (1,), "msg": "Input should be a valid integer, unable to parse string as an integer",
         "input": "x"},
        {"type": "int_parsing", "loc": (2,), "msg": "Input should be a valid integer, unable to parse string as an integer",
         "input": "3.5"}]
    assert errors_of(codec(bool).convert, "maybe", True) == [
        {"type": "bool_parsing", "loc": (), "msg": "Input should be a valid boolean, unable to interpret input",
         "input": "maybe"}]
    assert errors_of(codec(Literal["a", "b", "c"]).convert, "d", True) == [
        {"type": "literal_error", "loc": (), "msg": "Input should be 'a', 'b' or 'c'", "input": "d",
         "ctx": {"expected": "'a', 'b' or 'c'"}}]
    assert errors_of(codec(float).convert, "x", True)[0]["type"] == "float_parsing"


def test_more_error_kinds():
    assert errors_of(codec(Annotated[float, msgspec.Meta(lt=1)]).convert, 2.0) == [
        {"type": "less_than", "loc": (), "msg": "Input should be less than 1", "input": 2.0, "ctx": {"lt": 1.0}}]
    assert errors_of(codec(Annotated[float, msgspec.Meta(le=0.5)]).convert, 2) == [
        {"type": "less_than_equal", "loc": (), "msg": "Input should be less than or equal to 0.5", "input": 2,
         "ctx": {"le": 0.5}}]
    assert errors_of(codec(Annotated[str, msgspec.Meta(min_length=3)]).convert, "ab") == [
        {"type": "string_too_short", "loc": (), "msg": "String should have at least 3 characters", "input": "ab",
         "ctx": {"min_length": 3}}]
    assert errors_of(codec(datetime.time).convert, "noon", True)[0]["type"] == "time_parsing"
    assert errors_of(codec(set[int]).convert, "x")[0] == {
        "type": "set_type", "loc": (), "msg": "Input should be a valid set", "input": "x"}
    assert errors_of(codec(tuple[int, str]).convert, [1]) == [
        {"type": "missing", "loc": (1,), "msg": "Field required", "input": [1]}]
    assert errors_of(codec(None.__class__).convert, 1) == [
        {"type": "none_required", "loc": (), "msg": "Input should be None", "input": 1}]
    assert errors_of(codec(dict[int, str]).convert, {"k": 1}, True) == [
        {"type": "int_parsing", "loc": ("k", "[key]"), "msg": "Input should be a valid integer, unable to parse string "
         "as an integer", "input": "k"},
        {"type": "string_type", "loc": ("k",), "msg": "Input should be a valid string", "input": 1}]


@pytest.mark.parametrize("tp, value, type_, msg", [
    (float, "x", "float_type", "Input should be a valid number"),
    (float, True, "float_type", "Input should be a valid number"),
    (int, True, "int_type", "Input should be a valid integer"),
    (bool, "x", "bool_type", "Input should be a valid boolean"),
    (bool, None, "bool_type", "Input should be a valid boolean"),
    (str, 1, "string_type", "Input should be a valid string"),
    (uuid.UUID, 5, "uuid_type", "UUID input should be a string, bytes or UUID object"),
    (datetime.datetime, 5, "datetime_type", "Input should be a valid datetime"),
    (datetime.date, 5, "date_type", "Input should be a valid date"),
    (datetime.time, 5, "time_type", "Input should be a valid time"),
    (bytes, 5, "bytes_type", "Input should be a valid bytes"),
    (tuple[int, ...], 5, "tuple_type", "Input should be a valid tuple"),
    (frozenset[int], 5, "frozen_set_type", "Input should be a valid frozenset"),
    (decimal.Decimal, [], "decimal_type", "Decimal input should be an integer, float, string or Decimal object"),
    (list[int], "x", "list_type", "Input should be a valid list"),
])
def test_type_errors_from_python_objects(tp, value, type_, msg):
    assert errors_of(codec(tp).convert, value) == [{"type": type_, "loc": (), "msg": msg, "input": value}]


def test_dataclasses_and_typeddicts_decode_in_one_pass_and_report_errors():
    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    class Movie(TypedDict):
        title: str
        year: int

    assert codec(Point).decode_json(b'{"x": 1}') == Point(1, 0)
    assert codec(list[Movie]).decode_json(b'[{"title": "M", "year": 1927}]') == [{"title": "M", "year": 1927}]
    assert errors_of(codec(Point).decode_json, b'{"y": "a"}') == [
        {"type": "missing", "loc": ("x",), "msg": "Field required", "input": {"y": "a"}},
        {"type": "int_parsing", "loc": ("y",), "msg": "Input should be a valid integer, unable to parse string as an "
         "integer", "input": "a"}]
    assert errors_of(codec(Point).decode_json, b'[1]')[0] == {
        "type": "dataclass_type", "loc": (), "msg": "Input should be a dictionary or an instance of Point",
        "input": [1], "ctx": {"class_name": "Point"}}
    assert errors_of(codec(Movie).decode_json, b'{"title": 1}') == [
        {"type": "string_type", "loc": ("title",), "msg": "Input should be a valid string", "input": 1},
        {"type": "missing", "loc": ("year",), "msg": "Field required", "input": {"title": 1}}]


@pytest.mark.parametrize("body, pos, error", [
    (b'{"customer": {"id": 1,', 22, "Expecting property name enclosed in double quotes"),
    (b'', 0, "Expecting value"),
    (b'{"a": 1} x', 9, "Extra data"),
    (b'[1, 2', 5, "Expecting ',' delimiter"),
    ('{"name": "café" "x"}'.encode(), 16, "Expecting ',' delimiter"),   # characters, not bytes
    (b'{"a": NaN}', 6, "invalid character"),                         # the stdlib takes NaN; msgspec says why
    (b'{"a": "\xff"}', 7, "Invalid UTF-8 in the body"),
])
def test_malformed_json_is_one_json_invalid_error_with_its_position(body, pos, error):
    assert errors_of(codec(Order).decode_json, body) == [
        {"type": "json_invalid", "loc": (pos,), "msg": "JSON decode error", "input": {}, "ctx": {"error": error}}]


@pytest.mark.parametrize("tp", [Order, list, dict])
def test_json_nested_too_deeply_is_json_invalid_not_a_crash(tp):
    for body in (b"[" * 100000 + b"]" * 100000, b'{"a":' * 50000 + b"1" + b"}" * 50000):
        [error] = errors_of(codec(tp).decode_json, body)
        assert (error["type"], error["loc"], error["ctx"]) == ("json_invalid", (0,), {"error": "Nested too deeply"})


def test_validation_error_is_a_value_error_with_a_summary():
    with pytest.raises(ValueError) as info:
        Item.model_validate({"sku": "A-1", "qty": 0, "price": 1})
    exc = info.value
    assert isinstance(exc, ValidationError) and exc.error_count() == 1
    assert "1 validation error for Item" in str(exc) and "qty" in str(exc)


def test_post_init_errors_come_through_as_value_errors():
    class Span(BaseModel):
        lo: int
        hi: int

        def __post_init__(self):
            if self.lo > self.hi:
                raise ValueError("lo must not exceed hi")

    assert errors_of(Span.model_validate_json, b'{"lo": 2, "hi": 1}') == [
        {"type": "value_error", "loc": (), "msg": "Value error, lo must not exceed hi", "input": {"lo": 2, "hi": 1},
         "ctx": {"error": "lo must not exceed hi"}}]


# -- pydantic models through codec ------------------------------------------------------------------

def test_pydantic_models_go_through_pydantic():
    c = codec(POrder)
    assert c.is_pydantic and c.type is POrder and c.schema_type is POrder
    o = c.decode_json(json.dumps(GOOD).encode())
    assert isinstance(o, POrder) and o.items[3].qty == 4
    assert c.convert(GOOD) == o
    assert json.loads(c.encode(o)) == json.loads(o.model_dump_json())
    bad = b'{"customer": {"id": 0, "name": "A", "email": "a@b"}, "items": []}'
    assert errors_of(c.decode_json, bad) == pydantic_errors(POrder, bad)
    assert all("url" not in e for e in errors_of(c.decode_json, bad))
    assert errors_of(c.decode_json, b'{"customer": ') == [
        {"type": "json_invalid", "loc": (13,), "msg": "JSON decode error", "input": {},
         "ctx": {"error": "Expecting value"}}]
    lst = codec(list[PItem])
    assert lst.is_pydantic and lst.decode_json(b'[{"sku": "A-1", "qty": 1, "price": 1}]')[0].sku == "A-1"


def test_pydantic_ctx_values_are_json_ready():
    class V(pydantic.BaseModel):
        n: int

        @pydantic.field_validator("n")
        @classmethod
        def even(cls, v):
            if v % 2:
                raise ValueError("must be even")
            return v

    errors = errors_of(codec(V).decode_json, b'{"n": 3}')
    assert errors == [{"type": "value_error", "loc": ("n",), "msg": "Value error, must be even", "input": 3,
                       "ctx": {"error": "must be even"}}]
    json.dumps(errors)


def test_unsupported_types_raise_type_error():
    with pytest.raises(TypeError, match="cannot validate"):
        codec(type(object.__new__))


def test_codecs_are_cached():
    assert codec(Order) is codec(Order)
    assert codec(list[Item]) is codec(list[Item])


# -- encode_json --------------------------------------------------------------------------------------

def test_encode_json_of_each_kind():
    @dataclasses.dataclass
    class DC:
        a: int
        when: datetime.date

    class S(msgspec.Struct):
        x: float

    u = uuid.UUID(int=1)
    cases = [
        ({"a": [1, "é", None, True]}, '{"a":[1,"é",null,true]}'),
        ([1, 2.5], "[1,2.5]"), ("s", '"s"'), (3, "3"), (None, "null"),
        (2 ** 80, str(2 ** 80)),                                    # beyond 64 bits
        (S(1.5), '{"x":1.5}'),
        (Item(sku="A-1", qty=2, price=3.0), '{"sku":"A-1","qty":2,"price":3.0}'),
        (DC(1, datetime.date(2024, 1, 2)), '{"a":1,"when":"2024-01-02"}'),
        (PItem(sku="A-1", qty=2, price=3.0), '{"sku":"A-1","qty":2,"price":3.0}'),
        (u, '"00000000-0000-0000-0000-000000000001"'),
        (datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), '"2024-01-02T03:04:05Z"'),
        (decimal.Decimal("1.10"), '"1.10"'),
        (Color.BLUE, '"b"'),
        ({"items": [PItem(sku="A-1", qty=1, price=1.0)], "c": (Color.RED,)},
         '{"items":[{"sku":"A-1","qty":1,"price":1.0}],"c":["r"]}'),
        ({1: "int key"}, '{"1":"int key"}'),
        (float("nan"), "null"),
    ]
    for value, wire in cases:
        assert encode_json(value) == wire.encode(), value
    with pytest.raises(TypeError, match="object"):
        encode_json(object())


# -- JSON Schema ----------------------------------------------------------------------------------------

def test_json_schema_of_nested_models():
    schemas, components = json_schema([Order, list[Item], int])
    assert schemas == [{"$ref": "#/components/schemas/Order"},
                       {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                       {"type": "integer"}]
    assert set(components) == {"Order", "Customer", "Item"}
    assert components["Order"]["required"] == ["customer", "items"]
    assert components["Order"]["properties"]["items"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Item"}, "minItems": 1, "maxItems": 100}
    assert components["Item"]["properties"]["qty"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert components["Item"]["properties"]["price"] == {"type": "number", "exclusiveMinimum": 0}
    assert components["Customer"]["properties"]["email"]["pattern"] == r"^[^@\s]+@[^@\s]+$"


def test_json_schema_documentation_and_aliases():
    class Doc(BaseModel):
        user_id: int = Field(alias="userId", title="User", description="who", examples=[1], deprecated=True,
                             json_schema_extra={"x-note": "n"})

    (ref,), comps = json_schema([Doc], ref_template="#/$defs/{name}")
    assert ref == {"$ref": "#/$defs/Doc"}
    assert comps["Doc"]["properties"]["userId"] == {"type": "integer", "title": "User", "description": "who",
                                                    "examples": [1], "deprecated": True, "x-note": "n"}


def test_json_schema_mixes_pydantic_and_msgspec_types_with_unique_names():
    class Item(pydantic.BaseModel):              # a third "Item", another schema again
        label: str

    # pydantic's Order, Customer, Item share their names with the msgspec ones: numbered
    schemas, components = json_schema([Order, POrder, list[Item], Optional[PItem]])
    assert schemas[0] == {"$ref": "#/components/schemas/Order"}
    assert schemas[1] == {"$ref": "#/components/schemas/Order2"}
    assert schemas[2] == {"type": "array", "items": {"$ref": "#/components/schemas/Item3"}}
    assert schemas[3] == {"anyOf": [{"$ref": "#/components/schemas/Item2"}, {"type": "null"}]}   # the same one
    assert set(components) == {"Order", "Customer", "Item", "Order2", "Customer2", "Item2", "Item3"}
    assert components["Item"]["properties"].keys() == components["Item2"]["properties"].keys() == {"sku", "qty", "price"}
    assert components["Item3"]["properties"].keys() == {"label"}
    assert components["Order2"]["properties"]["customer"] == {"$ref": "#/components/schemas/Customer2"}
    assert components["Order2"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item2"}
    for schema in components.values():
        for ref in _refs(schema):
            assert ref.rsplit("/", 1)[1] in components
    assert json_schema([POrder], "#/$defs/{name}")[1]["Order"]["properties"]["customer"] == {"$ref": "#/$defs/Customer"}


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_model_json_schema_inlines_the_model_with_defs():
    schema = Order.model_json_schema()
    assert schema["title"] == "Order" and schema["type"] == "object"
    assert schema["properties"]["customer"] == {"$ref": "#/$defs/Customer"}
    assert set(schema["$defs"]) == {"Customer", "Item"}
    assert Customer.model_json_schema()["properties"]["id"] == {"type": "integer", "minimum": 1}
