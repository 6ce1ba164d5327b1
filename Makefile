# The two commands: `make lab` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test install browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make lab: install, then open JupyterLab on the lessons (Ctrl-C stops it)
lab: $(STAMP)
	$(BIN)/labapp lab

## make test: install, then run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	-$(BIN)/labapp down
	rm -rf $(VENV) .labapp .pytest_cache
