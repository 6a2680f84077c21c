# py-scheduler: one entry point for people and CI.
#   make demo   run the scheduler on a local control plane with the examples
#   make test   every check and test (lint, types, layers, unit, integration)
#   make bench  py-scheduler against kube-scheduler (ARGS="--quick --reps 5 ...")
#   make image  the OCI image, without Docker (dist/py-scheduler_<version>_<arch>.oci.tar)
#   make test-matrix  the integration suite on every supported Kubernetes release
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all venv lock image-tools image image-test controlplane lint unit integration deploy-test packaging-test manifests test test-matrix demo bench clean

all: test

# Every dependency, transitive included, comes pinned with hashes from the lock files;
# the project itself is then installed editable without resolving anything, and so are
# the example plugin packages, so that the tests find their entry points.
EXAMPLE_PLUGINS := $(wildcard examples/plugins/*/pyproject.toml)
$(STAMP): pyproject.toml requirements-dev.lock $(EXAMPLE_PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e . $(foreach p,$(EXAMPLE_PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

venv: $(STAMP)

# Re-resolve the lock files after a change to pyproject.toml. Pins already in a lock are
# kept unless pyproject needs them changed (`make lock UPGRADE=1` moves everything).
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock:
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv==$$(sed -n 's/.*"uv==\(.*\)".*/\1/p' pyproject.toml)
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) --extra bench -o requirements-bench.lock

# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and helm
# of the selected Kubernetes release (controlplane/versions.env) from Go modules into
# ~/.cache/py-scheduler/k8s-<release> (once; reused after).
controlplane:
	bash controlplane/build.sh >/dev/null

# Debian's image tools, installed when missing (mmdebstrap builds the root filesystem,
# umoci assembles the layers, skopeo writes and inspects the OCI archive).
IMAGE_TOOLS := mmdebstrap umoci skopeo
image-tools:
	@missing=""; for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "make: installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The image from Debian bookworm and the locked wheels; ARCH=arm64 for the other one.
image: venv image-tools
	bash image/build.sh

# The built image run read-only as uid 65532 against the local control plane.
image-test: image controlplane
	PY_SCHEDULER_REQUIRE_CONTROLPLANE=1 $(BIN)/pytest tests/image -q

lint: venv
	$(BIN)/ruff check py_scheduler controlplane tests bench examples/plugins
	$(BIN)/ruff format --check py_scheduler controlplane tests bench examples/plugins
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests/unit examples/plugins -q

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

# Line coverage of the in-process tests (88% when set); the floor keeps it from sliding.
COVERAGE_FLOOR ?= 85

test: venv controlplane image lint deploy-test packaging-test
	PY_SCHEDULER_REQUIRE_CONTROLPLANE=1 $(BIN)/coverage run -m pytest tests examples/plugins -q
	@echo "line coverage of py_scheduler: $$($(BIN)/coverage report --format=total)% (floor $(COVERAGE_FLOOR)%)"
	$(BIN)/coverage report --fail-under=$(COVERAGE_FLOOR) > /dev/null

# The integration suite on each supported release (KUBE_RELEASES), each built on first use.
test-matrix: venv
	bash controlplane/matrix.sh

demo: venv controlplane
	$(BIN)/python -m controlplane demo examples/

# Side-by-side benchmark; never part of `make test`. Results go to bench/results.
bench: venv controlplane
	$(BIN)/pip install --quiet --require-hashes -r requirements-bench.lock
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist build
