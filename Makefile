# Two entry points for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test build deps system-deps fuzz wheel clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "Cython>=3.0.10" "setuptools>=64" wheel
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[test,fast]"
	# Swagger UI's dist/ files for tests/test_docs_browser.py (the wheel's Flask code is not used)
	$(BIN)/python -m pip install -q --no-deps "flask-swagger-ui==5.34.*"
	touch $(STAMP)

deps: $(STAMP)

# Incremental: recompiles only what changed since the last build.
build: deps
	$(BIN)/python setup.py -q build_ext --inplace

system-deps:
	bash scripts/system-deps.sh

# Builds, then serves examples/app.py on http://127.0.0.1:8000 (HOST/PORT to change).
demo: build
	$(BIN)/python examples/app.py

# The suite on TEST_JOBS processes (pytest-xdist), then the tests marked
# `serial` (timing assertions, whole-machine load) alone.
TEST_JOBS ?= 2
test: build system-deps
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) -m "not serial"
	$(BIN)/python -m pytest -q -m serial

# One release wheel (manylinux-repaired) for $(PYTHON), into dist/: what a project's
# venv installs without a compiler (README, "Your first app"). All of 3.10-3.13:
# bash scripts/build-wheels.sh.
wheel:
	bash scripts/build-wheels.sh -o dist "$$(command -v $(PYTHON))"

fuzz: system-deps
	bash fuzz/run.sh $(or $(SECONDS),60)

clean:
	rm -rf build $(VENV)
	find catzilla -name '*.so' -delete -o -name '*.c' -delete
