# Everything installs into ./.venv from pinned requirements; every target is safe to re-run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/datasets

.PHONY: demo test models bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@# Debian ships venv's pip bootstrap separately (python3-venv): install it when venv fails.
	@test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed; installing python3-venv (Debian)"; rm -rf $(VENV); \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/threatml demo

test: $(STAMP)
	$(PY) -m pytest -q

# Rebuild the shipped default models from the shared data sets.
models: $(STAMP)
	$(PY) -m threatml.shipped.build --data $(DATA)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache threatml.egg-info
