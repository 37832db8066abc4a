"""The validation cost alone: µs to decode + validate the `orders` body in-process.

    .venv/bin/python benchmarks/validation.py [--repeat 7]

The issue's `orders` body (a customer and 10 items, nested models with constraints), decoded
from bytes and validated by: Catzilla's codec (`codec(Order).decode_json`, what a typed route
runs), `Order.model_validate_json` (the same engine through the pydantic-style method), raw
`msgspec.json.decode(body, type=...)` (the engine with nothing around it) and pydantic's
`model_validate_json`. Also the failure path: a body with 3 bad fields, every error collected.
Each figure is the best of --repeat timeit runs (each long enough to last ~0.2 s), in µs per
body. Every contender's result is checked (same total) before it is timed. pydantic comes from
this interpreter when installed, else from PYDANTIC_PYTHON (another venv's python; this file
is run there with --pydantic-only), else it is reported as not installed.
"""
import argparse
import json
import os
import subprocess
import sys
import timeit
from typing import Annotated, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "apps"))
from common import order_models  # noqa: E402   (the models the benchmark apps serve)

BODY = json.dumps({
    "customer": {"id": 42, "name": "Ada Lovelace", "email": "ada@example.com"},
    "items": [{"sku": f"A-{100 + i}", "qty": 1 + i % 7, "price": round(3.5 + i * 1.25, 2)} for i in range(10)],
    "note": "leave at the door",
    "express": True,
}).encode()
BAD = json.dumps({
    "customer": {"id": 0, "name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": f"A-{100 + i}", "qty": 1 + i % 7, "price": 2.5} for i in range(9)]
    + [{"sku": "bad", "qty": 0, "price": 2.5}],
}).encode()
TOTAL = round(sum((1 + i % 7) * round(3.5 + i * 1.25, 2) for i in range(10)), 2)


def per_call(fn, repeat):
    timer = timeit.Timer(fn)
    n, _ = timer.autorange()           # at least 0.2 s per run
    return min(timer.repeat(repeat, n)) / n * 1e6


def total_of(order):
    return round(sum(it.qty * it.price for it in order.items), 2)


def catzilla_rows(repeat):
    sys.path.insert(0, ROOT)
    import msgspec

    from catzilla.models import BaseModel, Field, ValidationError, codec

    _, _, Order = order_models(BaseModel, Field)

    class RawCustomer(msgspec.Struct):
        id: Annotated[int, msgspec.Meta(ge=1)]
        name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
        email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$")]

    class RawItem(msgspec.Struct):
        sku: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]-[0-9]+$")]
        qty: Annotated[int, msgspec.Meta(ge=1, le=1000)]
        price: Annotated[float, msgspec.Meta(gt=0)]

    class RawOrder(msgspec.Struct):
        customer: RawCustomer
        items: Annotated[list[RawItem], msgspec.Meta(min_length=1, max_length=100)]
        note: Optional[str] = None
        express: bool = False

    # the same without the two `pattern` constraints: what Python's `re`, which msgspec calls
    # once per constrained string (11 here), costs of the figures above
    class PlainCustomer(msgspec.Struct):
        id: Annotated[int, msgspec.Meta(ge=1)]
        name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
        email: str

    class PlainItem(msgspec.Struct):
        sku: str
        qty: Annotated[int, msgspec.Meta(ge=1, le=1000)]
        price: Annotated[float, msgspec.Meta(gt=0)]

    class PlainOrder(msgspec.Struct):
        customer: PlainCustomer
        items: Annotated[list[PlainItem], msgspec.Meta(min_length=1, max_length=100)]
        note: Optional[str] = None
        express: bool = False

    c = codec(Order)
    decode = msgspec.json.decode
    rows = []
    for name, fn in [("catzilla codec(Order).decode_json", lambda: c.decode_json(BODY)),
                     ("catzilla Order.model_validate_json", lambda: Order.model_validate_json(BODY)),
                     ("msgspec.json.decode(type=RawOrder)", lambda: decode(BODY, type=RawOrder)),
                     ("msgspec, the same without the 2 patterns", lambda: decode(BODY, type=PlainOrder))]:
        assert total_of(fn()) == TOTAL, name
        rows.append((name, per_call(fn, repeat)))

    def bad():
        try:
            c.decode_json(BAD)
        except ValidationError as exc:
            return exc.errors()
    assert [e["type"] for e in bad()] == ["greater_than_equal", "string_pattern_mismatch", "greater_than_equal"]
    rows.append(("catzilla, 3 bad fields: every error", per_call(bad, repeat)))
    return rows


def pydantic_rows(repeat):
    import pydantic
    from pydantic import BaseModel, Field, ValidationError

    _, _, Order = order_models(BaseModel, Field)
    fn = lambda: Order.model_validate_json(BODY)   # noqa: E731
    assert total_of(fn()) == TOTAL

    def bad():
        try:
            Order.model_validate_json(BAD)
        except ValidationError as exc:
            return exc.errors()
    assert len(bad()) == 3
    return [(f"pydantic {pydantic.VERSION} model_validate_json", per_call(fn, repeat)),
            ("pydantic, 3 bad fields: every error", per_call(bad, repeat))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--pydantic-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pydantic_only:
        json.dump(pydantic_rows(args.repeat), sys.stdout)
        return
    rows = catzilla_rows(args.repeat)
    try:
        rows += pydantic_rows(args.repeat)
    except ImportError:
        other = os.environ.get("PYDANTIC_PYTHON")
        if other:
            out = subprocess.run([other, os.path.abspath(__file__), "--pydantic-only", "--repeat", str(args.repeat)],
                                 check=True, capture_output=True, text=True).stdout
            rows += [tuple(r) for r in json.loads(out)]
        else:
            rows.append(("pydantic (not installed; set PYDANTIC_PYTHON)", float("nan")))
    print(f"`orders` body: {len(BODY)} bytes, 10 items; Python {sys.version.split()[0]}\n")
    print("| decode + validate | µs per body |")
    print("|---|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
