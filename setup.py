"""Build the compiled modules: every .pyx under catzilla/ against the plain C in include/."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

INCLUDE = "include"
DEBUG = os.environ.get("CATZILLA_DEBUG") == "1"   # asserts on, -O1 -g, for sanitizer runs
SANITIZE = os.environ.get("CATZILLA_SANITIZE", "")  # e.g. "address"

cflags = ["-O1", "-g", "-fno-omit-frame-pointer"] if DEBUG or SANITIZE else ["-O3", "-DNDEBUG"]
cflags += ["-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]
ldflags = []
if SANITIZE:
    cflags.append(f"-fsanitize={SANITIZE}")
    ldflags.append(f"-fsanitize={SANITIZE}")

# module -> C sources from include/ it links
C_SOURCES = {
    "_core.httpparser": ["cz_http.c"],
    "_core.connection": ["cz_http.c", "cz_poller.c"],
    "_core.bodyreader": ["cz_http.c"],   # the chunked decoder
    "_core.server": ["cz_poller.c"],
    "_core.transport": ["cz_poller.c", "cz_date.c"],
    "request": ["cz_http.c"],            # Request(...) parses what it is given
    "forms": ["cz_multipart.c"],
    "_core.websocket": ["cz_ws.c"],
    "_core.fanout": ["cz_ws.c"],         # WebSocket frame headers, written once per event
    "_core.pmd": ["cz_pmd.c", "cz_deflate.c"],
    "compression": ["cz_deflate.c"],     # gzip content coding
    "models": ["cz_pattern.c"],          # str pattern constraints
}
# module -> system libraries it links
LIBRARIES = {
    "_core.pmd": ["z"],                  # zlib (zlib1g-dev)
    "compression": ["z"],
}


def extension(name):
    return Extension(
        f"catzilla.{name}",
        [f"catzilla/{name.replace('.', '/')}.pyx"] + [os.path.join(INCLUDE, c) for c in C_SOURCES.get(name, [])],
        include_dirs=[INCLUDE],
        define_macros=[("_GNU_SOURCE", None)],
        libraries=LIBRARIES.get(name, []),
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )


# "request", "_core.connection", ...: every .pyx under catzilla/
modules = sorted(os.path.relpath(os.path.join(d, f), "catzilla")[:-4].replace(os.sep, ".")
                 for d, _, files in os.walk("catzilla") for f in files if f.endswith(".pyx"))
if os.environ.get("CATZILLA_MODULES"):  # e.g. "router,_core.httpparser": rebuild only these
    modules = [m for m in modules if m in os.environ["CATZILLA_MODULES"].split(",")]
setup(
    ext_modules=cythonize(
        [extension(m) for m in modules],
        language_level=3,
        nthreads=0 if sys.platform == "darwin" else int(os.environ.get("CATZILLA_JOBS", "2")),
        compiler_directives={
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
)
