# The two commands: `make lab` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test install browser screenshot clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: the lab needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "       Point make at a newer one, e.g.: make PYTHON=python3.12 lab"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON) -m venv' failed. On Debian or Ubuntu the venv module is a separate"; \
	  echo "       package (python3-venv); without sudo, use a Python from pyenv, uv or conda:"; \
	  echo "       make PYTHON=/path/to/python3 lab"; exit 1; }

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

## make browser: Debian's Chromium for browser work (Playwright never downloads one)
browser:
	@command -v /usr/bin/chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

## make screenshot: docs/dashboard.png from real JupyterLab in headless Chromium
screenshot: $(STAMP) browser
	$(BIN)/python docs/make_screenshot.py

clean:
	-$(BIN)/labapp down
	rm -rf $(VENV) .labapp .pytest_cache
