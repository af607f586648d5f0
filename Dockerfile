# syntax=docker/dockerfile:1
# Container for the UNDO kit: exactly the pins of requirements.lock (PyPI torch 2.13.0, a CUDA 13.0
# build whose nvidia-* wheels carry the CUDA user-space libraries), then the kit, editable.
#
#   make image                      # build undo-kit (git revision, version and source as build args)
#   make docker-fig5 SCALE=mini     # any make target inside it: tree mounted, files owned by you
#   mkdir -p results ~/.cache/huggingface ~/.cache/undo
#   docker run --rm --gpus all --user "$(id -u):$(id -g)" -e HF_TOKEN \
#       -v "$PWD/results":/results -v ~/.cache/huggingface:/cache/hf -v ~/.cache/undo:/cache/undo \
#       undo-kit make fig5 SCALE=mini
#
# Outputs go to /results (artifacts/ and figures/), downloads to /cache (hub files in /cache/hf,
# corpora and tokenized shards in /cache/undo): all three are volumes, so bind-mount them to keep
# them beyond --rm. The host needs an NVIDIA driver >= 580 (CUDA 13.x) and a GPU of compute
# capability 7.5 or newer.
#
# Base: nvidia/cuda:13.0.1-runtime-ubuntu24.04 pinned by digest. CUDA 13.0 matches the lock's
# torch wheels, so the image's NVIDIA_REQUIRE_CUDA makes the container toolkit refuse a host driver
# too old for them (>= 580). The digest was taken from a public Dockerfile that pins the same tag,
# rockycqu002/qwen-image-edit-4090 (Dockerfile at 24b198222faae2ab55c4197b24cd94e17057866b), and
# appears with that tag in several other public Dockerfiles; it was NOT re-resolved from the build
# machines, which reach no registry. Refresh on a host that does with
#   docker buildx imagetools inspect nvidia/cuda:13.0.1-runtime-ubuntu24.04
ARG BASE=nvidia/cuda:13.0.1-runtime-ubuntu24.04@sha256:c3fde347d52d578c84fd644bc177bc7ec333feaf11550d990da4084d7612e4c7
# uv only installs the interpreter: Ubuntu 24.04 ships Python 3.12 and 22.04 only a 3.11 release
# candidate, while the lock targets CPython 3.11. uv fetches a python-build-standalone 3.11 and checks
# it against the sha256 table built into this uv binary, so the digest fixes the interpreter too.
# Digest of ghcr.io/astral-sh/uv:0.9.15 as pinned in MattKobayashi/github-status-pushover (Dockerfile,
# a Renovate-maintained pin) and other public Dockerfiles; same caveat as above.
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9.15@sha256:4c1ad814fe658851f50ff95ecd6948673fffddb0d7994bdb019dcb58227abd52

FROM ${UV_IMAGE} AS uv

FROM ${BASE}

ARG PYTHON_VERSION=3.11
# VENV and UNDO_IMAGE tell the Makefile and tools/setup-env.sh that the environment is this
# image's /opt/venv, built from the lock below (so `make TARGET` never rebuilds it).
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    VENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    UNDO_IMAGE=1 \
    HF_HOME=/cache/hf \
    UNDO_CACHE=/cache/undo \
    UNDO_ARTIFACTS=/results/artifacts \
    UNDO_FIGURES=/results/figures \
    MPLBACKEND=Agg

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# make drives every step (`make fig5`, `make test`, ...).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1build2 \
    && rm -rf /var/lib/apt/lists/*

# CPython 3.11 in /opt/python, and the venv from its own ensurepip (pip fixed by the interpreter,
# not fetched).
COPY --from=uv /uv /usr/local/bin/uv
RUN uv python install "${PYTHON_VERSION}" \
    && "$(uv python find "${PYTHON_VERSION}")" -m venv "${VENV}" \
    && python -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'

# Fixed non-root user undo (uid/gid 1000; Ubuntu 24.04's own uid-1000 user is removed). `make
# docker-TARGET` and the documented `docker run` run as the caller's uid instead, so outputs belong
# to the caller. The volume directories are world-writable (sticky, like /tmp): an anonymous volume
# starts as a copy of them, and any --user can then write into it.
RUN if id ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi \
    && useradd --create-home --uid 1000 --user-group --shell /bin/bash undo \
    && mkdir -p /repo /cache/hf /cache/undo /results \
    && chown undo:undo /repo /cache/hf /cache/undo /results \
    && chmod 1777 /cache/hf /cache/undo /results

WORKDIR /repo

# Dependencies first, so that source edits do not rebuild this layer. Hash-checked and
# --no-deps: pip installs exactly the lock and resolves nothing.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock \
    && pip check

COPY --chmod=755 tools/docker-entrypoint.sh /usr/local/bin/undo-entrypoint

# The kit itself (--no-build-isolation: built with the locked setuptools). The stamp is what
# tools/setup-env.sh writes, world-writable so that any --user can refresh its timestamp.
COPY --chown=undo:undo . .
RUN pip install --no-deps --no-build-isolation -e . \
    && cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1 > "${VENV}/.lock-sha256" \
    && chmod 666 "${VENV}/.lock-sha256" \
    && chown -R undo:undo /repo

# Provenance, set by `make image` and the release workflow: the commit built (empty: unknown), whether
# tracked files differed from it, the release version and the repository's URL. GIT_SHA and GIT_DIRTY
# reach every meta.json as UNDO_GIT_SHA/UNDO_GIT_DIRTY (undo/env.py), since the image has no git.
# Declared last: a RUN after an ARG sees it, so a new commit would otherwise rebuild the lock's layer.
ARG GIT_SHA=""
ARG GIT_DIRTY=""
ARG VERSION=""
ARG SOURCE=""
ARG LOCK_SHA256=""
LABEL org.opencontainers.image.title="undo-kit" \
      org.opencontainers.image.description="Reproducibility kit for 'Distillation Robustifies Unlearning'" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      io.undo-kit.lock-sha256="${LOCK_SHA256}"

ENV UNDO_GIT_SHA=${GIT_SHA} \
    UNDO_GIT_DIRTY=${GIT_DIRTY}

USER 1000:1000
VOLUME ["/cache/hf", "/cache/undo", "/results"]

# The entrypoint only makes sure HOME is writable (an arbitrary --user uid has none), then runs
# the command: `docker run IMAGE make fig5` runs `make fig5`; plain `docker run IMAGE` lists targets.
ENTRYPOINT ["/usr/local/bin/undo-entrypoint"]
CMD ["make", "help"]
