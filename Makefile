# leadscore: every target sets itself up (a .venv with the pinned dependencies) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench lock clean mlflow-ui notebook

$(STAMP): requirements/lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leadscore needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/lock.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

## run: the whole service on embedded defaults (SQLite, local MLflow store, demo data)
run: $(STAMP)
	$(BIN)/leadscore up

## test: the whole test suite, on SQLite and, when a local server answers, PostgreSQL
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if url=$$($(PYTHON) .ci/postgres-url); then \
		echo "PostgreSQL answers: store and API tests run on SQLite and on $$url"; \
		export LEADSCORE_TEST_DATABASE_URL="$$url"; \
	else \
		echo "No PostgreSQL on 127.0.0.1:5432: store and API tests run on SQLite only"; \
	fi; \
	OMP_NUM_THREADS=1 $(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/quality.py

mlflow-ui: $(STAMP)
	$(BIN)/leadscore mlflow-ui

## notebook: refresh the committed channel-review notebook's outputs from a demo run
notebook: $(STAMP)
	LEADSCORE_SAVE_NOTEBOOK=notebooks/channel_review.ipynb OMP_NUM_THREADS=1 \
		$(BIN)/pytest -q -p no:cacheprovider tests/serving/test_channel_notebook.py

## lock: re-resolve the pinned versions (needs network to PyPI)
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/lock.txt --no-header

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
