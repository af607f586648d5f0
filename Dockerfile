# syntax=docker/dockerfile:1
# Container for the UNDO kit: the exact pins of requirements.lock (PyPI torch with its
# CUDA wheels), then the kit as an editable install. Placeholder, to be hardened later.
#
#   docker build -t undo-kit .
#   docker run --rm --gpus all --ipc=host -v "$PWD":/repo -v "$HOME/.cache/hf":/cache/hf undo-kit make fig5
#
# Base: python:3.11-slim-bookworm, pinned by its multi-arch OCI index digest (the tag then
# pointed at 3.11.16-slim-bookworm; linux/amd64 manifest sha256:bb3a5d38989e...). Taken
# from public sources dated 2026-08-24 (a project ADR that re-checked the registry that
# day, plus several public Dockerfiles pinning the same digest); NOT re-resolved from the
# build machines, which reach no registry. Refresh on a host that does with
#   docker buildx imagetools inspect python:3.11-slim-bookworm
ARG BASE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
FROM ${BASE}

ARG GIT_SHA=unknown
ARG LOCK_SHA256=unknown
LABEL org.opencontainers.image.title="undo-kit" \
      org.opencontainers.image.description="Reproducibility kit for 'Distillation Robustifies Unlearning'" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.licenses="MIT" \
      io.undo-kit.lock-sha256="${LOCK_SHA256}"

# CUDA user-space libraries come from the locked torch wheel's nvidia-* dependencies;
# the NVIDIA container toolkit only has to mount the driver.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/cache/hf \
    UNDO_ARTIFACTS=/repo/artifacts \
    MPLBACKEND=Agg

# make drives every step (`make fig5`, `make test`, ...).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*

# Fixed non-root user undo (uid/gid 1000); `make` may still run the container as the
# caller's uid with --user.
RUN useradd --create-home --uid 1000 --user-group --shell /bin/bash undo \
    && mkdir -p /repo /cache/hf \
    && chown undo:undo /repo /cache/hf

WORKDIR /repo

# Dependencies first, so that source edits do not rebuild this layer. Hash-checked and
# --no-deps: pip installs exactly the lock and resolves nothing.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock \
    && pip check

# The kit itself. --no-build-isolation builds with the locked setuptools.
COPY --chown=undo:undo . .
RUN pip install --no-deps --no-build-isolation -e .

USER 1000:1000
VOLUME /cache/hf

# `docker run IMAGE make fig5` replaces CMD; there is no entrypoint to get in the way.
ENTRYPOINT []
CMD ["make", "help"]
