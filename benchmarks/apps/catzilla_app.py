"""Catzilla: the benchmark routes. Run: python catzilla_app.py PORT"""
from catzilla import Catzilla, StreamingResponse

from common import HELLO, chunks64m, lines10k, port_from_argv

app = Catzilla()


@app.get("/")
def home(request):
    return HELLO


@app.get("/json")
def json_route(request):
    return {"message": HELLO}


@app.get("/users/{id:int}")
def user(request, id):
    return {"id": id}


@app.post("/echo")
def echo(request):
    return request.body


@app.get("/stream10k")
def stream10k(request):
    return StreamingResponse(lines10k())


@app.get("/stream64m")
def stream64m(request):
    return StreamingResponse(chunks64m(), content_type="application/octet-stream")


if __name__ == "__main__":
    app.listen(port_from_argv(), host="127.0.0.1", banner=False)
