"""Build the compiled modules: every .pyx in catzilla/ against the plain C in include/."""
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
    "_httpparser": ["cz_http.c"],
    "connection": ["cz_http.c", "cz_poller.c"],
    "server": ["cz_poller.c"],
    "transport": ["cz_poller.c"],
    "response": ["cz_date.c"],
}


def extension(name):
    return Extension(
        f"catzilla.{name}",
        [f"catzilla/{name}.pyx"] + [os.path.join(INCLUDE, c) for c in C_SOURCES.get(name, [])],
        include_dirs=[INCLUDE],
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )


modules = sorted(f[:-4] for f in os.listdir("catzilla") if f.endswith(".pyx"))
if os.environ.get("CATZILLA_MODULES"):  # e.g. "router,_httpparser": rebuild only these
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
