"""The app test_static.py runs in a server subprocess: static mounts of
$STATIC_SITE/public, and an audit of every file the process opens.

`python tests/apps/static_app.py` prints the URL it serves (PORT, default 0).
GET /_opened lists the paths opened (audit event "open", PEP 578) since the
previous GET /_opened, so a test can tell which files a batch of requests read."""
import json
import mimetypes
import os
import sys
import threading

if os.environ.get("CATZILLA_TEST_INSTALLED") != "1":   # else: the installed package (a wheel)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from catzilla import Catzilla, JSONResponse  # noqa: E402

PUBLIC = os.path.join(os.environ["STATIC_SITE"], "public")

app = Catzilla()
app.static("/assets", PUBLIC, name="assets")
app.static("/follow", PUBLIC, follow_symlinks=True)
app.static("/dots", PUBLIC, dotfiles=True)
app.static("/raw", PUBLIC, precompressed=False, index=None)

opened = []
lock = threading.Lock()
recording = False


def audit(event, args):
    if recording and event == "open" and isinstance(args[0], (str, bytes)):
        with lock:
            opened.append(os.fsdecode(args[0]))


@app.get("/_opened")
def get_opened(request):
    with lock:
        paths = list(opened)
        opened.clear()
    return JSONResponse(paths)


@app.on_startup
def start_recording():
    global recording
    mimetypes.init()        # reads /etc/mime.types & co. now, not during the first request
    recording = True


sys.addaudithook(audit)

if __name__ == "__main__":
    app.listen(int(os.environ.get("PORT", "0")), "127.0.0.1", banner=True)
