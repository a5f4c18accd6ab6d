# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED_FACES := $(wildcard ../shared/faces)
DEMO_DATA ?= $(SHARED_FACES)
DEMO_MODELS ?= $(wildcard ../shared/models)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install lint test test-postgres demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make lint: ruff (style and likely bugs) and mypy (types); configured in pyproject.toml
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

## make test: lint, then the whole suite on SQLite (real-face, ONNX parity, agent end-to-end and browser tests included)
test: $(STAMP) lint
	$(PY) -m pytest

## make test-postgres: the database-facing tests again on PostgreSQL (PG_TEST_URL)
test-postgres: $(STAMP)
	ATTENDANCE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -m "not realfaces and not browser"

## make demo: dashboard + enrolled sample people + the camera agent on the sample clip; leaves the dashboard up.
## With ../shared/models at hand it installs the recommended models from there first (YuNet + Intel's embedder).
demo: $(STAMP)
	$(PY) -m demo $(if $(DEMO_DATA),--data $(DEMO_DATA)) $(if $(DEMO_MODELS),--models $(DEMO_MODELS))

bench: $(STAMP)
	$(PY) -m bench.bench_lfw
	$(PY) bench/bench_onnx.py
	$(PY) -m bench.place_points
	$(PY) -m bench.gallery_size

clean:
	rm -rf $(VENV) .cache demo-instance
