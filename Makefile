# `make run` and `make test` each create (or refresh) the virtualenv, then run.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test venv clean

venv: $(STAMP)

# torch is pinned first: pip takes the CPU wheel that is on disk instead of
# resolving a newer CUDA build from the registry.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# The char-LM job: about 3 minutes of training on Python's own documentation, then a sample.
run: $(STAMP)
	$(VENV)/bin/lstmkit train charlm --max-time 3m --decay-by time --max-steps 100000

test: $(STAMP)
	$(PY) -m pytest -q -n 2

clean:
	rm -rf $(VENV) build src/*.egg-info
