# Two commands on a fresh machine: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

# The environment this project controls: FiftyOne's bundled MongoDB 6.0 is "old" to FiftyOne 1.22,
# which would warn at every start; analytics calls would only time out offline.
export FIFTYONE_DATABASE_VALIDATION ?= false
export FIFTYONE_DO_NOT_TRACK ?= true
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test test-fast doctor benchmark clean-cache

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/videorec doctor
	$(BIN)/videorec demo $(DEMO_ARGS)

# The whole suite, then the pipeline tests once more against a separately started mongod server.
test:
	@bash scripts/setup.sh --browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	VIDEOREC_TEST_DB=server $(BIN)/python -m pytest -m pipeline $(PYTEST_ARGS)

doctor: setup
	$(BIN)/videorec doctor

benchmark: setup
	$(BIN)/python scripts/benchmark.py all

clean-cache:
	rm -rf "$${VIDEOREC_HOME:-$$HOME/.cache/fiftyone-videorec}/frame-cache"
