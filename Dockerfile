# py-scheduler image: a venv built in a throw-away stage, copied onto the same slim base.
#
#   docker build -t REGISTRY/py-scheduler:0.1.0 .
#
# Both stages must use the same base: the venv's interpreter is a symlink to the base's
# /usr/local/bin/python3.11. Pin it by digest too for reproducible builds:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:... .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python -m venv /opt/venv

# The runtime dependencies, pinned in pyproject.toml, get a layer of their own so that a
# source change does not reinstall them. tomllib is in the standard library from 3.11 on.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --requirement requirements.txt

# The project itself as a wheel, without touching the dependencies installed above.
# README.md is part of the package metadata (pyproject's readme).
COPY README.md ./
COPY py_scheduler ./py_scheduler
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /wheels/*.whl

FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="py-scheduler" \
      org.opencontainers.image.description="A Kubernetes scheduler in Python with kube-scheduler's semantics and PDB-safe preemption" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# pip compiled the bytecode at build time; PYTHONDONTWRITEBYTECODE keeps Python from trying
# to write more on a read-only root filesystem. HOME points at /tmp (an emptyDir in the
# chart) because the numeric user has no passwd entry and so no home directory.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

COPY --from=builder /opt/venv /opt/venv

# Numeric, so the kubelet can verify runAsNonRoot without a passwd lookup.
USER 65532:65532
EXPOSE 10259

# Exec form: python is PID 1 and receives SIGTERM directly; the scheduler installs its own
# handler (stop taking pods, finish in-flight binds, release the lease, exit 0).
ENTRYPOINT ["python", "-m", "py_scheduler"]
CMD ["run"]
