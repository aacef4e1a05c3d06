# Two commands do all set-up on a fresh machine:
#   make demo   -- create .venv, install aevb, train on the offline MNIST sample, write pictures and metrics
#   make test   -- create .venv with the dev extras, run the test suite
#   make test PYTHON=python3.13  -- the same suite on another Python, in its own .venv-python3.13
#   make docs   -- build the documentation site into site/ (mkdocs --strict); make docs-serve to read it live
PYTHON ?= python3
# One environment per interpreter, so the suite can run on several side by side: .venv for the default python3,
# .venv-<name> for any other (PYTHON=python3.13 -> .venv-python3.13).
VENV   ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO_OUT ?= runs/demo

.PHONY: demo test venv dev lint format bench docs docs-serve clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

demo: $(VENV)/.installed
	$(VENV)/bin/aevb demo --out $(DEMO_OUT) --overwrite

test: $(VENV)/.dev-installed
	@# The browser tests (the HTML report, aevb explore) drive headless Chromium; install it where we can (root + Debian),
	@# otherwise those tests skip, saying why.
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  ( (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 ) || \
	  echo "note: chromium not installed; the browser tests (report rendering, aevb explore) will be skipped"
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The site: MkDocs + Material, the API reference from the docstrings (mkdocstrings). Offline once installed.
docs: $(VENV)/.dev-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(VENV)/.dev-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports  # the layers of ARCHITECTURE.md (contracts in pyproject.toml)

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.installed
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/nll_throughput.py --limit 500
	$(PY) benchmarks/step_latency.py

clean:
	rm -rf $(VENV) runs site
