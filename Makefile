# py-scheduler: one entry point for people and CI.
#   make demo   run the scheduler on a local control plane with the examples
#   make test   every check and test (lint, types, layers, unit, integration)
#   make bench  py-scheduler against kube-scheduler (ARGS="--quick --reps 5 ...")
#   make test-matrix  the integration suite on every supported Kubernetes release
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all venv controlplane lint unit integration deploy-test packaging-test manifests test test-matrix demo bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and helm
# of the selected Kubernetes release (controlplane/versions.env) from Go modules into
# ~/.cache/py-scheduler/k8s-<release> (once; reused after).
controlplane:
	bash controlplane/build.sh >/dev/null

lint: venv
	$(BIN)/ruff check py_scheduler controlplane tests bench
	$(BIN)/ruff format --check py_scheduler controlplane tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests/unit -q

integration: venv controlplane
	PY_SCHEDULER_REQUIRE_CONTROLPLANE=1 $(BIN)/pytest tests/integration -q

deploy-test:
	bash tests/deploy/run.sh

# hadolint, helm lint/template, promtool rules tests, dashboard and manifests checks
packaging-test: venv controlplane
	bash tests/packaging/run.sh

# Regenerate deploy/manifests from the Helm chart
manifests: controlplane
	bash tests/packaging/generate-manifests.sh

test: venv controlplane lint deploy-test packaging-test
	PY_SCHEDULER_REQUIRE_CONTROLPLANE=1 $(BIN)/pytest tests -q

# The integration suite on each supported release (KUBE_RELEASES), each built on first use.
test-matrix: venv
	bash controlplane/matrix.sh

demo: venv controlplane
	$(BIN)/python -m controlplane demo examples/

# Side-by-side benchmark; never part of `make test`. Results go to bench/results.
bench: venv controlplane
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
