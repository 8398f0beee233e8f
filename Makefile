# Quick start: `make run` runs the built-in corridor scenarios, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@# compile the numba kernels once, here, by running the base year into a temporary folder:
	@# a first `karvan run` then takes its usual time instead of twice it; a failure here is
	@# left for that run to report
	@echo "compiling the kernels (once, about 25 s)"
	@tmp=$$(mktemp -d) && { $(BIN)/karvan run baseline --out "$$tmp" >/dev/null 2>&1 \
	  || echo "(the warm-up run failed: karvan run will say why)"; rm -rf "$$tmp"; }
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/karvan run

# the tests run in TEST_WORKERS processes (pytest-xdist), each test file whole in one of them so
# that a file's shared fixtures are built once; TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_aequilibrae.py

clean:
	rm -rf $(VENV) results
