# Deep Learning at Scale — the two commands of the README are `make lab` and `make test`.
# Both bootstrap .venv from the pinned lock (tools/bootstrap.py) before they do anything else.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LAB_ARGS ?=
# Tests: warnings are errors and JAX refuses implicit rank promotion, in notebooks too.
export JAX_NUMPY_RANK_PROMOTION := raise
UNIT_TESTS     := -m pytest -n 2 --durations=15 -m "not book and not browser" tests
NOTEBOOK_TESTS := -m pytest -n 2 --dist loadfile --no-loadscope-reorder --nbval-lax --nbval-current-env -p tools.nbval_capture notebooks
# two workers, each with its own Chromium and JupyterLab: one waits on a kernel while the
# other draws a page (4¼–5½ minutes instead of 8½ here)
BOOK_TESTS     := -m pytest -n 2 --durations=10 -m "book or browser" tests
# `make test` computes each chapter's studies once: the notebooks keep them here
# (course.engine.memo, keyed by the code and the arguments), and the claim tests and the
# JupyterLab test read them back.  Emptied at the start of every `make test`.
TEST_RESULTS   := $(CURDIR)/.cache/test-results

.PHONY: lab test unit notebooks book book-check bench lock clean bootstrap

bootstrap:
	@$(PYTHON) tools/bootstrap.py

lab: bootstrap
	$(BIN)/python tools/lab.py $(LAB_ARGS)

test: export COURSE_RESULTS_DIR := $(TEST_RESULTS)
test: bootstrap
	@$(PYTHON) tools/browser.py
	@rm -rf $(TEST_RESULTS)
	@$(BIN)/python tools/stage.py "lint" $(BIN)/ruff check .
	@$(BIN)/python tools/stage.py "format" $(BIN)/ruff format --check .
	@$(BIN)/python tools/stage.py "notebooks (nbval)" env PYTHONWARNINGS=error $(BIN)/python $(NOTEBOOK_TESTS)
	@$(BIN)/python tools/stage.py "unit tests" $(BIN)/python $(UNIT_TESTS)
	@$(BIN)/python tools/stage.py "book build" $(BIN)/python -m tools.book build
	@$(BIN)/python tools/stage.py "book and browser tests" $(BIN)/python $(BOOK_TESTS)

unit: bootstrap
	$(BIN)/python $(UNIT_TESTS)

notebooks: bootstrap
	PYTHONWARNINGS=error $(BIN)/python $(NOTEBOOK_TESTS)

book: bootstrap
	$(BIN)/python -m tools.book build

bench: bootstrap
	@$(PYTHON) tools/bootstrap.py --with bench
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/gan.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/parallel.py
	$(BIN)/python benchmarks/chapters.py

lock:
	$(PYTHON) tools/lock.py

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
