# py-scheduler image for those who build with Docker:
#
#   docker build -t REGISTRY/py-scheduler:0.1.0 --build-arg VERSION=0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#
# `make image` builds the released image without Docker (image/build.sh). Both have one
# layout: Debian bookworm's python3.11, the locked dependencies and the project in
# /opt/venv, user 65532, the same entrypoint, environment and labels (the image test
# compares them). This one keeps debian:bookworm-slim's tools (shell, apt); the released
# image has none. Pin the base by digest for reproducible builds:
#   docker build --build-arg DEBIAN_IMAGE=debian:bookworm-slim@sha256:... .
ARG DEBIAN_IMAGE=debian:bookworm-slim

# The Debian packages of image/debian-packages.txt. Versions come from the bookworm
# archive at build time (security updates included); the SBOM records them.
FROM ${DEBIAN_IMAGE} AS base
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 libstdc++6 \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/*

FROM base AS builder
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11-venv binutils \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# /opt/build holds the pip that installs; /opt/venv, the image's venv, gets no pip.
RUN python3.11 -m venv /opt/build && python3.11 -m venv --without-pip /opt/venv

# The dependencies, every one pinned with its hash in requirements.lock, get a layer of
# their own so that a source change does not reinstall them.
COPY requirements.lock ./
RUN /opt/build/bin/pip --python /opt/venv/bin/python install --no-cache-dir --no-compile \
        --require-hashes --no-deps -r requirements.lock

# The project itself as a wheel (README.md and LICENSE are package metadata).
COPY pyproject.toml README.md LICENSE ./
COPY py_scheduler ./py_scheduler
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --no-cache-dir --no-compile \
        --no-deps /wheels/py_scheduler-*.whl

# Trimmed as image/build.sh trims it; bytecode that is never checked against the sources'
# times, since the root filesystem is read-only at run time.
COPY image/prune-venv.sh /tmp/prune-venv.sh
RUN bash /tmp/prune-venv.sh /opt/venv \
    && /opt/venv/bin/python -m compileall -q -f --invalidation-mode unchecked-hash \
        /opt/venv/lib/python3.11/site-packages

FROM base

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="py-scheduler" \
      org.opencontainers.image.description="A Kubernetes scheduler in Python with kube-scheduler's semantics and PDB-safe preemption" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/py-scheduler/py-scheduler" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:bookworm"

# PYTHONDONTWRITEBYTECODE: the bytecode is in the image and the root filesystem is
# read-only. HOME is /tmp (an emptyDir in the chart), the user's home in /etc/passwd of
# the released image.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

COPY --from=builder /opt/venv /opt/venv

# Numeric, so the kubelet can verify runAsNonRoot without a passwd lookup.
USER 65532:65532
WORKDIR /
EXPOSE 10259/tcp

# Exec form: python is PID 1 and receives SIGTERM directly; the scheduler installs its own
# handler (stop taking pods, finish in-flight binds, release the lease, exit 0).
ENTRYPOINT ["/opt/venv/bin/python", "-m", "py_scheduler"]
CMD ["run"]
