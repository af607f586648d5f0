# undo: reproduce "Distillation Robustifies Unlearning". `make help` lists the targets.
# Compute targets are phony and incremental through the artifact store: a finished stage is
# never recomputed, an interrupted one resumes. Each recipe is one command.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SCALE ?= paper
VENV ?= .venv
UNDO := $(VENV)/bin/undo
PYTEST := $(VENV)/bin/pytest
export VENV
export MPLBACKEND := Agg

# Container (make image, make docker-TARGET). The tree is mounted at /repo and the container runs
# as the caller, so outputs belong to the caller; GPUs are passed when the host has nvidia-smi.
IMAGE ?= undo-kit
HF_CACHE ?= $(HOME)/.cache/huggingface
DOCKER_GPUS := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo --gpus all)
DOCKER_TTY := $(shell [ -t 0 ] && echo -it)

.PHONY: help setup test lint smoke fig3 fig4 fig5 fig7 fig9 fig10 figures report lock bench image

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "; print "usage: make TARGET [SCALE=paper|mini|smoke]\n"} /^[a-zA-Z0-9_%-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.lock-sha256: requirements.lock pyproject.toml tools/setup-env.sh
	bash tools/setup-env.sh

setup: $(VENV)/.lock-sha256 ## create .venv from requirements.lock (a no-op when up to date)

test: $(VENV)/.lock-sha256 ## run the test suite on CPU, offline (unit tests + smoke-scale fig3, fig4 and fig5)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PYTEST) -q -m "not gpu"

lint: $(VENV)/.lock-sha256 ## ruff on the code, hadolint on the Dockerfile
	bash tools/lint.sh

smoke: $(VENV)/.lock-sha256 ## every pipeline at smoke scale (seconds per stage)
	$(UNDO) run reproduce/fig3.yaml reproduce/fig4.yaml reproduce/fig5.yaml reproduce/fig7.yaml reproduce/fig9.yaml reproduce/fig10.yaml --scale smoke

fig3: $(VENV)/.lock-sha256 ## Figure 3 + App. B.1 tables: unlearning learning-rate sweeps (language, arithmetic x GradDiff, MaxEnt, RMU)
	$(UNDO) run reproduce/fig3.yaml --scale $(SCALE)

fig4: $(VENV)/.lock-sha256 ## Figure 4: Unlearn-and-Distill vs Unlearn-Only vs Data Filtering, relearning (best LR bold)
	$(UNDO) run reproduce/fig4.yaml --scale $(SCALE)

fig7: $(VENV)/.lock-sha256 ## Figure 7: retain vs forget of eight unlearning methods after 0, 40 and 500 relearning steps
	$(UNDO) run reproduce/fig7.yaml --scale $(SCALE)

fig9: $(VENV)/.lock-sha256 ## Figure 9: distillation trends of Unlearn-and-Distill (loss, retain, forget per step)
	$(UNDO) run reproduce/fig9.yaml --scale $(SCALE)

fig10: $(VENV)/.lock-sha256 ## Figure 10: Figure 4's runs with the average over learning rates bold
	$(UNDO) run reproduce/fig10.yaml --scale $(SCALE)

fig5: $(VENV)/.lock-sha256 ## Figure 5: UNDO robustness vs compute (SCALE=mini on a CPU in minutes)
	$(UNDO) run reproduce/fig5.yaml --scale $(SCALE)

figures: $(VENV)/.lock-sha256 ## redraw every figure of SCALE from stored results (no training)
	$(UNDO) figure reproduce/fig3.yaml reproduce/fig4.yaml reproduce/fig5.yaml reproduce/fig7.yaml reproduce/fig9.yaml reproduce/fig10.yaml \
		--scale $(SCALE)

report: $(VENV)/.lock-sha256 ## check the paper's claims against stored results -> figures/SCALE/claims.md
	$(UNDO) report --scale $(SCALE)

bench: $(VENV)/.lock-sha256 ## tokens/s, MFU, peak memory at 0.1B/0.3B -> docs/benchmarks.md (a GPU)
	$(UNDO) bench --preset paper

lock: ## regenerate requirements.lock (needs PyPI)
	bash tools/lock.sh

image: ## build the container image (undo-kit; base pinned by digest, requirements.lock with hashes)
	docker build -t $(IMAGE) --build-arg GIT_SHA=$$(git rev-parse HEAD) --build-arg LOCK_SHA256=$$(sha256sum requirements.lock | cut -d' ' -f1) .

docker-%: ## run `make %` inside the image, e.g. make docker-fig5 (tree mounted, files owned by you)
	docker run --rm $(DOCKER_TTY) $(DOCKER_GPUS) --ipc=host --user $$(id -u):$$(id -g) -v "$(CURDIR)":/repo -w /repo -v "$(HF_CACHE)":/cache/hf -e HF_TOKEN $(IMAGE) make $* SCALE=$(SCALE)
