# undo: reproduce "Distillation Robustifies Unlearning". `make help` lists the targets.
# Compute targets are phony and incremental through the artifact store: a finished stage is
# never recomputed, an interrupted one resumes. Each recipe is one command.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SCALE ?= paper
# Independent stages run at once (undo run --jobs): one per core at mini/smoke, where a tiny model
# cannot use two cores (nproc, ignoring OMP_NUM_THREADS); one at paper scale, where a stage fills the GPU.
JOBS ?= $(if $(filter paper,$(SCALE)),1,$(shell env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1))
VENV ?= .venv
UNDO := $(VENV)/bin/undo
PYTEST := $(VENV)/bin/pytest
export VENV
export MPLBACKEND := Agg

# Container (make image, make docker-TARGET). The tree is mounted at /repo and the container runs
# as the caller, so outputs belong to the caller; GPUs are passed when the host has nvidia-smi.
# The host's caches are mounted as the image's /cache/hf (HF_HOME) and /cache/undo (UNDO_CACHE), so
# hub files and corpora are downloaded once; docker-TARGET creates them first, as the caller (Docker
# would create a missing one as root). GIT_* describe the tree for the image's meta.json records
# (no git inside) and its OCI labels (the remote's URL without credentials); recursive (=), so only
# the container targets run git.
IMAGE ?= undo-kit
HF_CACHE ?= $(or $(HF_HOME),$(HOME)/.cache/huggingface)
UNDO_CACHE ?= $(HOME)/.cache/undo
GIT_SHA = $(shell git rev-parse --verify -q HEAD 2>/dev/null)
GIT_DIRTY = $(shell git rev-parse --verify -q HEAD >/dev/null 2>&1 && { git status --porcelain --untracked-files=no | grep -q . && echo true || echo false; })
GIT_VERSION = $(shell git describe --tags --always --dirty 2>/dev/null)
GIT_SOURCE = $(shell git remote get-url origin 2>/dev/null | sed -E 's|://[^/@]*@|://|')
DOCKER_GPUS := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo --gpus all)
DOCKER_TTY := $(shell [ -t 0 ] && echo -it)

# The paper's sections, as the figure configs that reproduce them.
SEC3 := reproduce/fig2.yaml
SEC4 := reproduce/fig3.yaml reproduce/fig4.yaml reproduce/fig9.yaml reproduce/fig10.yaml
SEC5 := reproduce/fig5.yaml reproduce/fig6.yaml
SEC6 := reproduce/fig7.yaml reproduce/fig8.yaml reproduce/fig11.yaml reproduce/tab13.yaml
APPF := reproduce/fig12.yaml reproduce/fig13.yaml reproduce/tab14.yaml
FIGURES := $(SEC3) $(SEC4) $(SEC5) $(SEC6) $(APPF)
RUN = $(UNDO) run --scale $(SCALE) --jobs $(JOBS)

.PHONY: help setup test lint smoke all sec3 sec4 sec5 sec6 appf fig2 fig3 fig4 fig5 fig6 fig7 fig8 fig9 fig10 fig11 tab13 \
	fig12 fig13 tab14 figures report lock \
	bench bench-mini image tables

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "; print "usage: make TARGET [SCALE=paper|mini|smoke]\n"} /^[a-zA-Z0-9_%-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.lock-sha256: requirements.lock requirements-torch-cpu.lock pyproject.toml tools/setup-env.sh
	bash tools/setup-env.sh

setup: $(VENV)/.lock-sha256 ## create .venv from requirements.lock: CPU torch, or CUDA torch when nvidia-smi lists a GPU (a no-op when up to date)

test: $(VENV)/.lock-sha256 ## run the test suite on CPU, offline (unit tests + every figure end to end at smoke scale)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PYTEST) -q -m "not gpu"

lint: $(VENV)/.lock-sha256 ## ruff on the code, hadolint on the Dockerfile
	bash tools/lint.sh

smoke: $(VENV)/.lock-sha256 ## every figure's pipeline at smoke scale (seconds per stage)
	$(UNDO) run $(FIGURES) --scale smoke --jobs $(JOBS)

all: $(VENV)/.lock-sha256 ## Sections 3-6 and App. F: every figure (synthetic, WMDP, TOFU), then the claims report
	$(RUN) $(FIGURES)
	$(UNDO) report --scale $(SCALE)

sec3: $(VENV)/.lock-sha256 ## Section 3, oracle matching: Figure 2
	$(RUN) $(SEC3)

sec4: $(VENV)/.lock-sha256 ## Section 4, Unlearn-and-Distill: Figures 3, 4, 9, 10
	$(RUN) $(SEC4)

sec5: $(VENV)/.lock-sha256 ## Section 5, UNDO: Figures 5 and 6
	$(RUN) $(SEC5)

sec6: $(VENV)/.lock-sha256 ## Section 6: robust methods compared (Figure 7) and WMDP (Figures 8, 11, Table 13)
	$(RUN) $(SEC6)

appf: $(VENV)/.lock-sha256 ## App. F, TOFU: distillation onto the base model (Figures 12, 13) and the INT4 attack (Table 14)
	$(RUN) $(APPF)

fig2: $(VENV)/.lock-sha256 ## Figure 2: oracle matching into the reference vs a random init, then relearning
	$(RUN) reproduce/fig2.yaml

fig3: $(VENV)/.lock-sha256 ## Figure 3 + App. B.1 tables: unlearning learning-rate sweeps (language, arithmetic x GradDiff, MaxEnt, RMU)
	$(RUN) reproduce/fig3.yaml

fig4: $(VENV)/.lock-sha256 ## Figure 4: Unlearn-and-Distill vs Unlearn-Only vs Data Filtering, relearning (best LR bold)
	$(RUN) reproduce/fig4.yaml

fig5: $(VENV)/.lock-sha256 ## Figure 5: UNDO robustness vs compute (SCALE=mini on a CPU in minutes)
	$(RUN) reproduce/fig5.yaml

fig6: $(VENV)/.lock-sha256 ## Figure 6: effects of UNDO's alpha and beta (relearning per alpha, steps matrix alpha x beta)
	$(RUN) reproduce/fig6.yaml

fig7: $(VENV)/.lock-sha256 ## Figure 7: retain vs forget after 0, 40 and 500 relearning steps, all methods
	$(RUN) reproduce/fig7.yaml

fig8: $(VENV)/.lock-sha256 ## Figure 8: relearning WMDP-Bio/Cyber after MaxEnt and RMU, with and without UNDO (8 adversaries)
	$(RUN) reproduce/fig8.yaml

fig11: $(VENV)/.lock-sha256 ## Figure 11 (App. D.2.7): WMDP forget vs retain after unlearning, a low- and a high-compute attack
	$(RUN) reproduce/fig11.yaml

tab13: $(VENV)/.lock-sha256 ## Table 13 (App. D.2.7): retain after UNDO's distillation by shrinkage alpha (Markdown + LaTeX)
	$(RUN) reproduce/tab13.yaml

fig12: $(VENV)/.lock-sha256 ## Figure 12 (App. F.1): TOFU metrics through finetuning, GradDiff and distillation onto the base model
	$(RUN) reproduce/fig12.yaml

fig13: $(VENV)/.lock-sha256 ## Figure 13 (App. F.1): relearning TOFU's forget set: unlearned, distilled, control
	$(RUN) reproduce/fig13.yaml

tab14: $(VENV)/.lock-sha256 ## Table 14 (App. F.2): the INT4 quantization attack on TOFU (Markdown + LaTeX)
	$(RUN) reproduce/tab14.yaml

fig9: $(VENV)/.lock-sha256 ## Figure 9: distillation trends of Unlearn-and-Distill (loss, retain, forget per step)
	$(RUN) reproduce/fig9.yaml

fig10: $(VENV)/.lock-sha256 ## Figure 10: Figure 4's runs with the average over learning rates bold
	$(RUN) reproduce/fig10.yaml

figures: $(VENV)/.lock-sha256 ## redraw every figure of SCALE from stored results (no training)
	$(UNDO) figure $(FIGURES) --scale $(SCALE)

report: $(VENV)/.lock-sha256 ## check the paper's claims against stored results -> figures/SCALE/claims.md
	$(UNDO) report --scale $(SCALE)

tables: $(VENV)/.lock-sha256 ## Tables 1-12 (App. A-D.2): hyperparameters of the paper-scale configs -> figures/tables/
	$(UNDO) tables --out figures/tables

bench: $(VENV)/.lock-sha256 ## tokens/s, MFU, peak memory at 0.1B/0.3B -> docs/benchmarks.md (a GPU)
	$(UNDO) bench --preset paper

bench-mini: $(VENV)/.lock-sha256 ## the mini models' training loops on this CPU, before/after profiling -> docs/benchmarks.md
	$(UNDO) bench --preset mini --paths reference --no-loss-memory

lock: ## regenerate requirements.lock and requirements-torch-cpu.lock (needs PyPI and PyTorch's CPU index)
	bash tools/lock.sh

image: ## build the container image (undo-kit; base pinned by digest, requirements.lock with hashes)
	docker build -t $(IMAGE) --build-arg GIT_SHA=$(GIT_SHA) --build-arg GIT_DIRTY=$(GIT_DIRTY) --build-arg VERSION=$(GIT_VERSION) --build-arg SOURCE=$(GIT_SOURCE) --build-arg LOCK_SHA256=$$(sha256sum requirements.lock | cut -d' ' -f1) .

docker-%: ## run `make %` inside the image, e.g. make docker-fig5 (tree and caches mounted, files owned by you)
	mkdir -p "$(HF_CACHE)" "$(UNDO_CACHE)" && docker run --rm $(DOCKER_TTY) $(DOCKER_GPUS) --ipc=host --user $$(id -u):$$(id -g) -v "$(CURDIR)":/repo -w /repo -v "$(HF_CACHE)":/cache/hf -v "$(UNDO_CACHE)":/cache/undo -e UNDO_ARTIFACTS=/repo/artifacts -e UNDO_FIGURES=/repo/figures -e UNDO_GIT_SHA=$(GIT_SHA) -e UNDO_GIT_DIRTY=$(GIT_DIRTY) -e HF_TOKEN $(IMAGE) make $* SCALE=$(SCALE)
