"""catzilla 0.2.3 (PyPI): the typed scenarios (orders, search) and GET / for the runner's readiness
check, in that release's own API (BaseModel/Field with `regex=` and `min_items`/`max_items`, Query
markers, the request as the first parameter, auto_validation on by default).
Run: python catzilla023_app.py PORT

Its query parameters are a dict with one value per key: `tags=a&tags=b` reaches the handler as
"b", which the runner's answer check reports as a wrong answer.
"""
from typing import List, Optional

from catzilla import BaseModel, Catzilla, Field, JSONResponse, Query, Response

from common import HELLO, port_from_argv

# production: no per-request log lines or tracebacks in answers; no banner
app = Catzilla(production=True, show_banner=False)


class Customer(BaseModel):
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(regex=r"^[^@\s]+@[^@\s]+$")


class Item(BaseModel):
    sku: str = Field(regex=r"^[A-Z]-[0-9]+$")
    qty: int = Field(ge=1, le=1000)
    price: float = Field(gt=0)


class Order(BaseModel):
    customer: Customer
    items: List[Item] = Field(min_items=1, max_items=100)
    note: Optional[str] = None
    express: bool = False


@app.get("/")
def home(request):
    return Response(body=HELLO, content_type="text/plain")


@app.post("/orders")
def orders(request, order: Order):
    return JSONResponse({"customer": order.customer.id, "items": len(order.items),
                         "total": round(sum(item.qty * item.price for item in order.items), 2)})


@app.get("/search")
def search(request, q: str = Query(...), limit: int = Query(10, ge=1, le=100), offset: int = Query(0, ge=0),
           tags: List[str] = Query([])):
    return JSONResponse({"q": q, "limit": limit, "offset": offset, "tags": tags})


if __name__ == "__main__":
    app.listen(port_from_argv(), host="127.0.0.1")
