# engmetrics: every target bootstraps what it needs from nothing (Debian packages via apt-get as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
# Debian packages: Java for the PySpark portability test; git for definition versions; prometheus for
# promtool, which checks the /metrics exposition; chromium for browser tests and PDF reports;
# poppler-utils to read the PDF report back in its test.
DEMO_DIR ?= demo-workspace
DEMO_PORT ?= 8000
DEMO_SERVE ?= 1

.PHONY: install system-packages demo test lint bench docs clean

system-packages: $(SYSTEM_STAMP)
$(SYSTEM_STAMP): Makefile
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v git >/dev/null || missing="$$missing git"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium fonts-dejavu-core"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "please install:$$missing (Debian names; Java 17+ for PySpark)"; exit 1; \
	  fi; \
	fi
	@mkdir -p $(VENV) && touch $@

$(BIN)/python: | $(SYSTEM_STAMP)
	$(PYTHON) -m venv $(VENV)

# Byte-compiled here (quick when current) because an environment with PYTHONDONTWRITEBYTECODE would otherwise
# compile the package at every start of the CLI: about 0.3 s.
install: $(STAMP)
	@$(BIN)/python -m compileall -q src
$(STAMP): pyproject.toml $(SYSTEM_STAMP) | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	touch $@

# Builds the demo organisation, prints its scorecard, then serves it (DEMO_SERVE=0 to stop after the scorecard).
demo: install
	rm -rf $(DEMO_DIR)
	$(BIN)/engmetrics demo $(DEMO_DIR)
	@token=$$($(BIN)/engmetrics -w $(DEMO_DIR) token create --role metrics-admin --description "make demo" \
	  2>/dev/null) && url=http://127.0.0.1:$(DEMO_PORT) && echo && \
	echo "Server: $$url  (API docs: $$url/api/v1/docs)" && echo "Admin token: $$token" && \
	echo "Try: curl -H 'Authorization: Bearer $$token' $$url/api/v1/scorecard" && \
	if [ "$(DEMO_SERVE)" != 0 ]; then exec $(BIN)/engmetrics -w $(DEMO_DIR) serve --port $(DEMO_PORT); fi

lint: install
	$(BIN)/ruff check src tests benchmarks

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --doctest-modules src tests

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/slo.py
	-$(BIN)/python benchmarks/cost.py --rows 1000000 --repeat 1
	$(BIN)/python benchmarks/delivery.py --repeat 1
	$(BIN)/python benchmarks/nab.py
	$(BIN)/python benchmarks/telemetry.py
	$(BIN)/python benchmarks/sampling.py
	$(BIN)/python benchmarks/telemetry.py
	$(BIN)/python benchmarks/sampling.py --draws 30

docs: install
	$(BIN)/python -m engmetrics.store.docs docs/datasets.md
	$(BIN)/python -m engmetrics.api.docs docs/api.md

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
