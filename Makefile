# One-command set-up: every target creates .venv from the pinned CPU stack on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# MKL's strict reproducibility mode: on this machine a matrix product gives the same bits however MKL splits it.
# Bits stay a property of one machine and setting; elsewhere the stored outputs hold to the tolerances of
# tests/nbregression.py, which `make test` applies.
export MKL_CBWR ?= AUTO,STRICT

.PHONY: help venv test book bench bench-book clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements/ci.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch goes in the same command as the package, so nothing pulls an unpinned CUDA build.
	$(PY) -m pip install -q -r requirements/ci.txt -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)  ## create .venv with the pinned stack and the package

# make test runs in three steps: every test but those of the built book in TEST_WORKERS processes (pytest-xdist,
# one file or chapter per process at a time, one thread each so that the processes do not oversubscribe the cores),
# each chapter leaving its executed notebook in $(EXECUTED); then the book is built once from those notebooks (no
# chapter runs twice: the tool fails if the build executed one); then the tests of the built book, spread over
# the same processes test by test. Plain `pytest` runs everything in one process, building the book itself.
TEST_WORKERS ?= auto
EXECUTED := _build/.executed
TEST_BOOK := _build/test-book

test: $(STAMP)  ## run the whole test suite (chapters in parallel, then the built book)
	rm -rf $(EXECUTED) $(TEST_BOOK)
	NBREGRESSION_EXECUTED=$(abspath $(EXECUTED)) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not book"
	$(PY) tools/build_book.py --executed $(EXECUTED) --path-output $(TEST_BOOK)
	BOOK_HTML=$(abspath $(TEST_BOOK))/_build/html $(PY) -m pytest -n $(TEST_WORKERS) --dist load -m book

book: $(STAMP)  ## build the HTML book from scratch into _build/html (chapters executed in parallel first)
	rm -rf _build
	$(PY) tools/build_book.py

bench: $(STAMP)  ## run the benchmarks; results in benchmarks/results (JSON and Markdown); bench-book runs last
	$(PY) benchmarks/bench_engine.py --device auto
	$(PY) benchmarks/bench_robustness.py --device auto
	$(MAKE) bench-book

bench-book: $(STAMP)  ## time a cold `make book` and `make test` (tens of minutes; results in benchmarks/results/book.*)
	$(PY) benchmarks/bench_book.py

.PHONY: sync mathjax notebooks macros sweeps

notebooks: $(STAMP)  ## re-execute every chapter at its defaults into its committed .ipynb (what nbval checks)
	$(PY) tools/execute_notebooks.py

sweeps: $(STAMP)  ## re-run every point of the book's sweeps at this commit: tables, records, provenance.json (minutes)
	for spec in sweeps/book/*.yaml; do $(PY) -m implicit_bias sweep $$spec --rerun --no-progress || exit 1; done

sync: $(STAMP)  ## update each chapter's paired .ipynb from its MyST .md (jupytext --sync)
	$(VENV)/bin/jupytext --sync $$(grep -l '^jupytext:' chapters/*.md)

macros: $(STAMP)  ## write the math macros of _config.yml into every chapter's hidden macros cell (then make sync)
	$(PY) tools/notebook_macros.py

mathjax:  ## re-vendor MathJax into _vendor/mathjax from npm (VERSION=3.2.2; needs npm)
	tools/vendor_mathjax.sh $(or $(VERSION),3.2.2)

clean:  ## remove builds and caches (keeps .venv)
	rm -rf _build .pytest_cache

.PHONY: linkcheck badges pdf

linkcheck: $(STAMP)  ## check the book's external links (Sphinx linkcheck, needs the network; report in _build/linkcheck)
	rm -rf _build/linkcheck
	$(VENV)/bin/jupyter-book build . --builder linkcheck --path-output _build/linkcheck

pdf: $(STAMP)  ## one PDF of the whole book in _build/pdf/book.pdf, printed from the HTML by Chromium (builds the HTML if missing)
	test -f _build/html/index.html || $(MAKE) book
	$(PY) tools/book_pdf.py --html _build/html --out _build/pdf/book.pdf

badges: $(STAMP)  ## render README badges, CITATION.cff and Colab install cells from the URL in _config.yml
	$(PY) tools/badges.py
