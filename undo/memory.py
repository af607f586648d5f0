"""Peak memory measurements: a block's CUDA allocator peak or peak RSS, and the chunked vs naive
forward KL at Gemma-2's 256k vocabulary (reported by ``undo bench``, asserted by the tests).

Kept free of transformers and the rest of the kit so that the CPU measurement's fresh
subprocess starts in about a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch


def _rss_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak, or the process's peak RSS on the CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            _reset_peak_rss()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self.peak = _rss_bytes("VmHWM")
        return False


_LOSS_MEMORY_SCRIPT = r"""
import json, sys, torch
from undo.memory import _loss_memory_in_process
print(json.dumps(_loss_memory_in_process(**json.loads(sys.argv[1]))))
"""


def _loss_memory_in_process(impl: str, vocab: int, positions: int, hidden: int, chunk: int | None,
                            device: str = "cpu") -> dict:
    from .chunked import linear_forward_kl
    from .losses import forward_kl

    dev = torch.device(device)
    cap = 30.0
    g = torch.Generator().manual_seed(0)

    def make(*shape, scale=1.0):
        return torch.randn(*shape, generator=g).mul_(scale).to(dev)

    h = make(1, positions + 1, hidden, scale=4.0).requires_grad_(True)
    w = make(vocab, hidden).requires_grad_(True)
    th, tw = make(1, positions + 1, hidden, scale=4.0), make(vocab, hidden)
    # Warm up the kernels on tiny shapes, so lazily allocated library workspaces are not counted.
    x = torch.randn(4, 8, device=dev, requires_grad=True)
    (torch.log_softmax(torch.tanh(x @ x.t()), -1).exp() * 2).sum().backward()
    base = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else _rss_bytes("VmRSS")
    with PeakMemory(dev) as mem:
        if impl == "naive":
            logits = cap * torch.tanh((h @ w.t()) / cap)
            with torch.no_grad():
                t_logits = cap * torch.tanh((th @ tw.t()) / cap)
            loss = forward_kl(logits, t_logits)
        elif impl == "chunked":
            loss = linear_forward_kl(h, w, th, tw, softcap=cap, teacher_softcap=cap, chunk=chunk)
        else:
            raise ValueError(impl)
        loss.backward()
    return {"impl": impl, "loss": loss.item(), "peak_bytes": mem.peak - base, "vocab": vocab, "positions": positions,
            "hidden": hidden, "chunk": chunk, "device": str(dev)}


def loss_memory(impl: str, *, vocab: int, positions: int, hidden: int, chunk: int | None = None,
                device: str = "cpu") -> dict:
    """Peak extra memory of one forward KL forward + backward, naive or chunked (module docstring).

    On the CPU it runs in a fresh subprocess and reads the peak RSS; glibc is told to return
    every large block to the OS when freed (``MALLOC_MMAP_THRESHOLD_``), so the RSS follows the
    live tensors instead of the allocator's cache.
    """
    if torch.device(device).type == "cuda":
        return _loss_memory_in_process(impl, vocab, positions, hidden, chunk, device)
    args = json.dumps({"impl": impl, "vocab": vocab, "positions": positions, "hidden": hidden, "chunk": chunk})
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", _LOSS_MEMORY_SCRIPT, args], capture_output=True, text=True,
                          env=env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"loss_memory({impl}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
