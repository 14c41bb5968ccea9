PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKDIR ?= var
SAMPLE_DIR ?= $(WORKDIR)/sample

.PHONY: install lint test demo bench clean

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
	$(BIN)/pytest

demo: install
	$(BIN)/canon sample --out $(SAMPLE_DIR) --suppliers 2000 --seed 7
	$(BIN)/canon train --data $(SAMPLE_DIR)/data --workdir $(WORKDIR)
	$(BIN)/canon evaluate --workdir $(WORKDIR) --queries $(SAMPLE_DIR)/queries.jsonl --truth $(SAMPLE_DIR)/expected.jsonl
	$(BIN)/canon keys create --workdir $(WORKDIR) --name demo-agent --role agent --scopes 'resolve,actions:*' > $(WORKDIR)/demo-agent.key
	@echo "agent key in $(WORKDIR)/demo-agent.key; try:"
	@echo "  curl -s -H \"Authorization: Bearer \$$(cat $(WORKDIR)/demo-agent.key)\" -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"entity_type\": \"supplier\", \"record\": {\"name\": \"...\", \"tax_id\": \"...\"}}' http://127.0.0.1:8000/v1/resolve"
	$(BIN)/canon serve --workdir $(WORKDIR) --host 127.0.0.1 --port 8000

bench: install
	$(BIN)/python benchmarks/bench_resolve.py
	$(BIN)/python benchmarks/load_mixed.py --seconds 60 --clients 16

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
