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

.PHONY: help setup test lint smoke fig3 fig5 figures lock

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "; print "usage: make TARGET [SCALE=paper|mini|smoke]\n"} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.lock-sha256: requirements.lock pyproject.toml tools/setup-env.sh
	bash tools/setup-env.sh

setup: $(VENV)/.lock-sha256 ## create .venv from requirements.lock (a no-op when up to date)

test: $(VENV)/.lock-sha256 ## run the test suite on CPU, offline (unit tests + smoke-scale fig3 and fig5)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PYTEST) -q -m "not gpu"

lint: $(VENV)/.lock-sha256 ## ruff on the code, hadolint on the Dockerfile
	bash tools/lint.sh

smoke: $(VENV)/.lock-sha256 ## every pipeline at smoke scale (seconds per stage)
	$(UNDO) run reproduce/fig3.yaml reproduce/fig5.yaml --scale smoke

fig3: $(VENV)/.lock-sha256 ## Figure 3 + App. B.1 tables: unlearning learning-rate sweeps (GradDiff, MaxEnt, RMU)
	$(UNDO) run reproduce/fig3.yaml --scale $(SCALE)

fig5: $(VENV)/.lock-sha256 ## Figure 5: UNDO robustness vs compute (SCALE=mini on a CPU in minutes)
	$(UNDO) run reproduce/fig5.yaml --scale $(SCALE)

figures: $(VENV)/.lock-sha256 ## redraw every figure of SCALE from stored results (no training)
	$(UNDO) figure reproduce/fig3.yaml reproduce/fig5.yaml --scale $(SCALE)

lock: ## regenerate requirements.lock (needs PyPI)
	bash tools/lock.sh
