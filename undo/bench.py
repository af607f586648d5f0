"""``undo bench``: tokens/s, MFU and peak memory of the training loops, written to docs/benchmarks.md.

Workloads, at the shapes of the paper's configs (reproduce/bench.yaml):

- ``pretrain``: next-token CE, AdamW (weight decay 0.1), grad clipping, one micro-batch per step;
- ``distill``: teacher forward without gradients + student forward KL (Section 3);
- ``relearn``: a learning-rate sweep: per rate, restore the starting weights from memory and
  finetune with CE (Table 4), timed over the whole sweep including the restores.

Each runs on the reference path (eager fp32, full logits) and the fast path (:mod:`undo.accel`:
bf16 autocast, FlexAttention, chunked losses, fused AdamW), through the same loss code the
stages use. A path that runs out of memory is reported as such.

MFU = model FLOPs per token x tokens/s / peak dense bf16 FLOP/s of the device, with
FLOPs/token = 6 (N_body + V d) + 12 L H d_head T for training and 2 (N_body + V d) + 4 L H d_head T
for a forward pass: N_body = parameters besides the (tied) embedding, V d the LM-head matmul
(counted explicitly: with V = 256000 it is about half the work), and the attention scores and
values over the full T x T square (no causal discount, as PaLM and nanoGPT count it).

Also measured: the peak memory of the chunked vs the naive forward KL at V = 256000 (forward +
backward, from hidden states), on the CPU in a subprocess (peak RSS) or with CUDA's allocator stats.

Usage::

    undo bench --preset paper           # 0.1b and 0.3b, on a GPU (make bench)
    undo bench --preset tiny --out /tmp/bench.md
    accelerate launch --config_file reproduce/accelerate/ddp.yaml -m undo bench --preset 0.1b
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import yaml

from . import accel
from .config import build, load_raw
from .memory import PeakMemory, loss_memory
from .models import ModelConfig, build_model, count_parameters

BENCH_YAML = Path("reproduce/bench.yaml")
WORKLOADS = ("pretrain", "distill", "relearn")

# Dense bf16 peak FLOP/s (no 2:4 sparsity), by device-name substring, most specific first.
# NVIDIA datasheets as tabulated in torchtitan's peak-FLOPs helper.
PEAK_BF16 = (("H200 NVL", 836e12), ("H200", 989e12), ("GH200", 989e12), ("H100 PCIe", 756e12),
             ("H100", 989e12), ("A100", 312e12))


def peak_flops(device_name: str) -> float | None:
    for key, value in PEAK_BF16:
        if key in device_name:
            return value
    return None


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    vocab_size: int
    seq_len: int
    batch: dict
    relearn_lrs: int
    relearn_steps: int
    steps: int
    warmup: int


def load_presets(path: Path = BENCH_YAML) -> tuple[dict[str, Preset], dict[str, list[str]], dict]:
    raw = yaml.safe_load(path.read_text())
    presets = {}
    for name, p in raw["presets"].items():
        name = str(name)
        model = p.get("model")
        if "model_from" in p:
            model = load_raw(path.parent / p["model_from"], "paper").data["model"]
        cfg = build(ModelConfig, dict(model), file=path)
        presets[name] = Preset(name, cfg, p["vocab_size"], p["seq_len"], dict(p["batch"]), p["relearn"]["lrs"],
                               p["relearn"]["steps"], p.get("steps", raw["steps"]), p.get("warmup", raw["warmup"]))
    return presets, {k: [str(n) for n in v] for k, v in raw.get("groups", {}).items()}, raw["loss_memory"]


def flops_per_token(model, vocab: int, seq: int, *, train: bool) -> float:
    """Model FLOPs per token (module docstring): matmul parameters incl. the LM head + attention."""
    c = model.config
    n_body = count_parameters(model) - vocab * c.hidden_size  # the tied embedding table is a lookup
    matmul = n_body + vocab * c.hidden_size
    attention = 2 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * seq  # per forward: QK^T, AV
    return (6 * matmul + 6 * attention) if train else (2 * matmul + 2 * attention)


# --- training loops ---------------------------------------------------------------------------

def _distributed():
    """An ``accelerate`` Accelerator when launched with several processes (DDP or FSDP), else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    acc = Accelerator()  # precision stays with undo.accel (autocast over fp32 weights)
    if acc.num_processes == 1:  # e.g. a CPU launch without ACCELERATE_USE_CPU=1: each rank would run alone
        raise RuntimeError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but accelerate set up no process group "
                           "(on CPUs, set ACCELERATE_USE_CPU=1)")
    return acc


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _random_batches(preset: Preset, workload: str, n: int, seed: int, device) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    b = preset.batch[workload]
    return [torch.from_numpy(rng.integers(3, preset.vocab_size, (b, preset.seq_len))).to(device) for _ in range(n)]


def _run_workload(preset: Preset, workload: str, device: torch.device, acc_dist) -> dict:
    """Time ``preset.steps`` optimizer steps after ``preset.warmup`` (a sweep for relearn)."""
    model = build_model(preset.model, preset.vocab_size, seed=0, device=str(device))
    teacher = None
    if workload == "distill":
        teacher = build_model(preset.model, preset.vocab_size, seed=1, device=str(device)).eval()
        teacher.requires_grad_(False)
    module = accel.CausalLMLoss(model)
    params = [p for p in model.parameters() if p.requires_grad]

    def new_optimizer(lr):
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.1, **accel.adamw_options(params))

    optimizer = new_optimizer(4e-4)
    if acc_dist is not None:
        module, optimizer = acc_dist.prepare(module, optimizer)
        # FSDP2 swaps the parameters for sharded ones: clip and re-create optimizers over those.
        params = [p for p in module.parameters() if p.requires_grad]
    clip = acc_dist.clip_grad_norm_ if acc_dist is not None else torch.nn.utils.clip_grad_norm_

    def step(batch):
        acc = accel.select(batch.device)
        if teacher is not None and acc.fast:
            with torch.no_grad(), accel.fast_forward(teacher, acc):
                t_hidden = accel.final_hidden(teacher, batch, acc)
            loss = module(batch, t_hidden, *accel._head(teacher))
        elif teacher is not None:
            loss = accel.lm_forward_kl(model, teacher, batch)  # the reference path (single device)
        else:
            loss = module(batch)
        (acc_dist.backward(loss) if acc_dist is not None else loss.backward())
        clip(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()  # the training loop syncs on every micro-batch too

    rank = acc_dist.process_index if acc_dist is not None else 0
    batches = _random_batches(preset, workload, preset.warmup + preset.steps, seed=1 + rank, device=device)
    for batch in batches[:preset.warmup]:
        step(batch)
    if workload == "relearn":
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        steps = preset.relearn_lrs * preset.relearn_steps
        lrs = np.geomspace(1e-3, 1e-6, preset.relearn_lrs)
    else:
        steps = preset.steps
    _sync(device)
    with PeakMemory(device) as mem:
        start = time.perf_counter()
        if workload == "relearn":
            for lr in lrs:
                model.load_state_dict(initial)
                optimizer = new_optimizer(float(lr))
                for i in range(preset.relearn_steps):
                    step(batches[preset.warmup + i % preset.steps])
        else:
            for batch in batches[preset.warmup:]:
                step(batch)
        _sync(device)
        seconds = time.perf_counter() - start
    world = acc_dist.num_processes if acc_dist is not None else 1
    tokens = steps * preset.batch[workload] * preset.seq_len * world
    fpt = flops_per_token(model, preset.vocab_size, preset.seq_len, train=True)
    if workload == "distill":
        fpt += flops_per_token(model, preset.vocab_size, preset.seq_len, train=False)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "flops_per_token": fpt,
            "peak_bytes": mem.peak, "params": count_parameters(model), "world": world,
            "tokens_per_step": preset.batch[workload] * preset.seq_len * world}


def run_workload(preset: Preset, workload: str, path: str, device: torch.device, acc_dist=None) -> dict:
    """One measurement row; out-of-memory is a result, not a crash."""
    row = {"preset": preset.name, "workload": workload, "path": path}
    try:
        with accel.use(path):
            row.update(_run_workload(preset, workload, device, acc_dist))
    except torch.OutOfMemoryError:
        row["error"] = "out of memory"
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


# --- report ------------------------------------------------------------------------------------

def environment(device: torch.device, dist=None) -> dict:
    from .env import git_state

    git = git_state()
    info = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": metadata.version("transformers"), "platform": platform.platform(),
            "git": f"{git.get('sha')}{' (dirty)' if git.get('dirty') else ''}",
            "device": "cpu"}
    if device.type == "cuda":
        info["device"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["device"] = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    if dist is not None:
        info["distributed"] = f"{dist.distributed_type.value} over {dist.num_processes} processes (accelerate)"
    from .numerics import describe

    num = describe()
    info["numerics"] = (f"pinned CPU code path (ATen {num['aten_cpu_capability']}, MKL_CBWR={num['MKL_CBWR']})"
                        if num["pinned"] else f"native CPU code path (ATen {num['aten_cpu_capability']})")
    info["fast_path"] = accel.select(device, mode="fast").describe()
    return info


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


KEEP_MARKER = "<!-- Everything below this line is written by hand and kept when `undo bench` rewrites the file. -->"


def render(env: dict, rows: list[dict], memory: list[dict], peak: float | None, presets: dict[str, Preset],
           preset: str = "paper", kept: str = "") -> str:
    out = ["# Benchmarks", "",
           f"Generated by `undo bench --preset {preset}` on {env['date']} (`make bench` runs `--preset paper` on a "
           "GPU); do not edit by hand.", "",
           "## Environment", ""]
    for key in ("device", "distributed", "cuda", "numerics", "torch", "transformers", "python", "platform", "git"):
        if key in env:
            out.append(f"- {key}: {env[key]}")
    fast = env["fast_path"]
    out.append(f"- fast path here: attention `{fast['attention']}`, precision {fast['autocast_dtype']}, "
               f"chunked losses {fast['chunked_loss']}, fused AdamW {fast['fused_adamw']}, compile {fast['compile']}")
    out.append(f"- peak dense bf16: {peak / 1e12:.0f} TFLOP/s" if peak else "- peak dense bf16: unknown device, MFU not reported")
    if "cuda" not in env:
        out += ["", "No GPU was available for this run, so the paper-size rows are pending: run `make bench` "
                "(or `make docker-bench`) on a CUDA machine to fill them in."]
    out += ["", "## Method", "",
            "Random tokens at each preset's training shape; `reference` = eager attention, fp32, full logits "
            "(`undo.losses`); `fast` = `undo.accel` (bf16 autocast over fp32 weights, FlexAttention with the softcap, "
            "chunked softcapped losses, fused AdamW). Timed after warm-up steps; one `.item()` sync per step, as in the "
            "training loop. Relearn = a sweep over learning rates, restoring the weights from memory before each rate.",
            "",
            "MFU = FLOPs/token x tokens/s / peak, FLOPs/token = 6 (N_body + V d) + 12 L H d_head T for training "
            "(+ 2 (N_body + V d) + 4 L H d_head T for the teacher's forward in distillation); N_body = parameters "
            "besides the tied embedding, V d = the LM-head matmul, attention over the full T x T square (no causal "
            "discount). Peak memory = CUDA allocator peak (weights, optimizer state, activations), or the process's "
            "peak RSS on the CPU.", "",
            "| preset | shape (batch x seq) | workload | path | tokens/s | MFU | peak memory | GFLOP/token |",
            "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = presets[r["preset"]]
        shape = f"{p.batch[r['workload']]} x {p.seq_len}"
        if "error" in r:
            out.append(f"| {r['preset']} | {shape} | {r['workload']} | {r['path']} | {r['error']} | | | |")
            continue
        mfu = f"{100 * r['flops_per_token'] * r['tokens_per_s'] / (peak * r['world']):.1f}%" if peak else "n/a"
        out.append(f"| {r['preset']} | {shape} | {r['workload']} | {r['path']} | {r['tokens_per_s']:,.0f} | {mfu} | "
                   f"{_gib(r['peak_bytes'])} | {r['flops_per_token'] / 1e9:.3g} |")
    if memory:
        m0 = memory[0]
        out += ["", f"## Chunked vocabulary loss: peak memory at V = {m0['vocab']}", "",
                f"Forward KL forward + backward from hidden states [{m0['positions']}, {m0['hidden']}] and an LM-head "
                f"weight [{m0['vocab']}, {m0['hidden']}] (student and teacher, softcap 30), on {m0['device']}; "
                "peak memory above the inputs (CPU: peak RSS of a fresh process).", "",
                "| device | positions | chunk | naive | chunked | chunked / naive |", "|---|---|---|---|---|---|"]
        for naive, chunked in zip(memory[0::2], memory[1::2], strict=True):
            out.append(f"| {naive['device']} | {naive['positions']} | {chunked['chunk'] or 'default'} | "
                       f"{_gib(naive['peak_bytes'])} | {_gib(chunked['peak_bytes'])} | "
                       f"{chunked['peak_bytes'] / naive['peak_bytes']:.3f} |")
    out += ["", "## Multi-GPU", "",
            "The stages train on one GPU each (run independent stages and relearning sweeps side by side with "
            "`CUDA_VISIBLE_DEVICES`). Data-parallel training goes through `accelerate`, with the loss inside the "
            "wrapped module (`undo.accel.CausalLMLoss`) so that DDP/FSDP see every parameter use:", "",
            "```",
            "accelerate launch --config_file reproduce/accelerate/ddp.yaml -m undo bench --preset 0.1b",
            "accelerate launch --config_file reproduce/accelerate/fsdp.yaml -m undo bench --preset 2b",
            "```", "",
            "Checked so far on CPUs only: DDP over gloo with 2 processes (`ACCELERATE_USE_CPU=1 torchrun "
            "--nproc_per_node 2 -m undo bench --preset tiny` runs; after steps on different data the two ranks' "
            "weights were identical). Neither config has run on a multi-GPU machine, and FSDP2 has not run at all "
            "(accelerate has no FSDP on CPUs).", ""]
    return "\n".join(out) + (f"\n{KEEP_MARKER}\n{kept}" if kept else "")


def kept_section(out: Path) -> str:
    """The hand-written part of an existing report (after :data:`KEEP_MARKER`), kept across rewrites."""
    if not out.is_file():
        return ""
    text = out.read_text()
    return text.split(KEEP_MARKER, 1)[1].lstrip("\n") if KEEP_MARKER in text else ""


def main(preset: str, out: Path, device: str, paths: tuple[str, ...], workloads: tuple[str, ...],
         memory: bool = True, echo=print) -> list[dict]:
    presets, groups, mem_cfg = load_presets()
    names = groups.get(preset, [preset])
    unknown = [n for n in names if n not in presets]
    if unknown:
        raise ValueError(f"unknown preset {', '.join(unknown)} (known: {', '.join([*presets, *groups])})")
    for name, known in (("workload", WORKLOADS), ("path", ("fast", "reference"))):
        bad = [w for w in (workloads if name == "workload" else paths) if w not in known]
        if bad:
            raise ValueError(f"unknown {name} {', '.join(bad)} (known: {', '.join(known)})")
    dist = _distributed()
    dev = torch.device(device if dist is None else dist.device)
    if dev.type == "cpu" and any(presets[n].vocab_size > 100_000 for n in names):
        raise ValueError(f"preset {preset} is GPU-sized (hours on a CPU); use --preset tiny or mini here")
    main_process = dist is None or dist.is_main_process
    if not main_process:
        echo = lambda *a, **k: None  # noqa: E731 (one report, from rank 0)
    rows = []
    for name in names:
        for workload in workloads:
            for path in paths:
                row = run_workload(presets[name], workload, path, dev, dist)
                rows.append(row)
                echo(json.dumps(row))
    mem_rows = []
    if memory and main_process:
        for impl in ("naive", "chunked"):
            mem_rows.append(loss_memory(impl, device=str(dev), **mem_cfg))
            echo(json.dumps(mem_rows[-1]))
        if dev.type == "cuda":  # and for one 2048-token sequence of the 0.1B model (d = 320)
            for impl in ("naive", "chunked"):
                mem_rows.append(loss_memory(impl, device=str(dev), vocab=256000, positions=2048, hidden=320))
                echo(json.dumps(mem_rows[-1]))
    if main_process:
        env = environment(dev, dist)
        peak = peak_flops(env["device"]) if dev.type == "cuda" else None
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(env, rows, mem_rows, peak, presets, preset, kept_section(out)))
        echo(f"wrote {out}")
    return rows
