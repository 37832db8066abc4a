"""Catzilla: the benchmark routes (catzilla_app.py) plus GET /file, for benchmarks/soak.py.
Run: SOAK_FILE=/path/to/file python soak_app.py PORT"""
import os

from catzilla.files import FileResponse

from catzilla_app import app
from common import port_from_argv

SOAK_FILE = os.environ["SOAK_FILE"]


@app.get("/file")
def file(request):
    return FileResponse(SOAK_FILE, media_type="application/octet-stream")


if __name__ == "__main__":
    app.listen(port_from_argv(), host="127.0.0.1", banner=False)
