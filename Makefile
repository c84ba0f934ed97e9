# The two commands of the README:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench-nlu clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[embedded,test]'
	touch $(STAMP)

## Set up and run the hub on its embedded database (no MongoDB install needed).
run: $(STAMP)
	$(BIN)/switchboard serve $(ARGS)

## Set up and run the whole test suite (system packages, Rasa's cached virtualenv, lint, tests).
test: $(STAMP)
	./scripts/install-system-deps.sh
	./scripts/rasa-venv.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench-nlu: $(STAMP)
	./benchmarks/nlu_banking77.sh

clean:
	rm -rf $(VENV) var
