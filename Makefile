# Two entry points: `make demo` and `make test`. Each sets up everything it needs in .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch lies on this machine's disk; an unpinned torch would pull a CUDA build of several GB.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,ray,sequences]'
	# holo-bench's Ehrlich functions (the ehrlich task's oracle). pytorch-holo pins numpy<2 and packages oboptim does
	# not need; --no-deps keeps the project's numpy (its Ehrlich and GA are pure torch and work with numpy 2).
	$(BIN)/pip install -q --no-deps pytorch-holo==0.0.5
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The inner loop while working: everything but the tests that start processes, servers, browsers or a Ray cluster,
# and the long statistical ones (about 2 minutes here). `make test` (what CI runs) runs them all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not (process or server or browser or cluster or slow)"

bench: $(STAMP)
	$(BIN)/python scripts/bench_sampler.py

clean:
	rm -rf $(VENV) build *.egg-info
