# qbelief: `make demo` runs the main job, `make test` the test suite, `make bench` the benchmarks.
# Each target creates .venv when missing and installs (torch==2.13.0 first: the CPU build).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: demo test bench clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	touch $@

# ray (a Ray sweep test, ~20 s to install) and tensorboard (tracker test, ~10 s) are tested in CI;
# wandb and mlflow are optional extras whose tests skip when they are not installed
$(VENV)/.test: $(VENV)/.base
	$(PIP) install --quiet -e '.[test,tl,ray,tensorboard]'
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/qbelief demo

test: $(VENV)/.test
	$(PY) -m pytest

bench: $(VENV)/.base
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
