"""Pinned CPU numerics: the same commit gives bit-identical artifacts on x86-64 CPUs with AVX2 of one vendor.

Floating-point results on a CPU depend on which machine code runs, not only on the program:

- ATen (PyTorch's kernels) picks a vectorised implementation per CPU at run time (AVX-512 where the
  CPU has it, else AVX2, else scalar). Vector width changes the order of summation in reductions
  (softmax, norms, loss means) and the implementation of gelu/exp, so an AVX-512 machine and an
  AVX2 machine disagree in the last bits, and tiny models amplify those bits over hundreds of steps.
- MKL (PyTorch's CPU BLAS) picks its matrix-multiply kernels per CPU too (AVX-512 on Intel parts
  that have it; the AVX2 kernels on others), with the same effect.

:func:`pin` fixes both to the AVX2 code path, which every x86-64 CPU since 2013 (Intel Haswell,
AMD Zen) runs: ``ATEN_CPU_CAPABILITY=avx2`` and ``MKL_CBWR=AVX2,STRICT`` (MKL's conditional
numerical reproducibility mode; ``STRICT`` also makes matrix multiplies independent of the
thread count). Measured on a 2-core AMD EPYC (AVX-512): a mini-scale training step costs 5-10%
more than with the native AVX-512 kernels (docs/benchmarks.md); results do not depend on the
thread count (1-8 threads give identical artifacts). The variables must be set before PyTorch
runs its first operation, so :mod:`undo` pins them when it is imported; a value the user already
set is kept (``UNDO_NUMERICS=native`` skips the pin for the fastest, machine-specific kernels).

Across vendors the pin is not enough: the same commit gave different smoke weights on an AMD EPYC (Zen 4)
and an Intel Xeon (both AVX-512, both pinned): 183 of 223 smoke artifacts differ, from the first trained
model on, while every corpus, tokenizer, dataset and random init is identical. MKL documents its
reproducibility modes for Intel CPUs; on other vendors it may take other code paths. MKL's vendor-neutral
mode (``MKL_CBWR=COMPATIBLE``, SSE2 kernels) costs 1.7-1.8x per mini training step (CE step 115 -> 205 ms,
distillation 168 -> 276 ms, 1 thread, Intel Xeon), so the kit keeps AVX2 and records the vendor
(:func:`cpu_vendor`) in every artifact's ``meta.json``; the golden smoke hashes are kept per vendor.

On other architectures (aarch64) or x86 CPUs without AVX2 nothing is pinned and
:func:`describe` says so: results are then reproducible on the same kind of CPU only.

Usage::

    import undo.numerics
    undo.numerics.pin()            # idempotent; done by ``import undo``
    undo.numerics.describe()       # {"pinned": True, "aten_cpu_capability": "AVX2", ...}
"""

from __future__ import annotations

import os
import platform

PINNED_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT"}
_X86 = ("x86_64", "amd64", "i686", "x86")


def cpu_vendor(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU vendor string (``GenuineIntel``, ``AuthenticAMD``; ``unknown`` off Linux). MKL's reproducibility
    modes hold across CPUs of one vendor only, so pinned results are identical per vendor (module docstring)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _cpu_has_avx2() -> bool:
    """Whether the CPU runs AVX2 code (Linux: /proc/cpuinfo flags; elsewhere assume it does on x86-64)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return " avx2" in line
    except OSError:
        pass
    return True


def applicable() -> bool:
    return platform.machine().lower() in _X86 and _cpu_has_avx2()


def pin() -> bool:
    """Set the pinned code paths unless the user opted out or set them; returns whether pinning applies."""
    if os.environ.get("UNDO_NUMERICS", "pinned") == "native" or not applicable():
        return False
    for name, value in PINNED_ENV.items():
        os.environ.setdefault(name, value)
    return True


def describe() -> dict:
    """What the current process runs: recorded in every artifact's ``meta.json`` (``environment.numerics``)."""
    import torch

    env = {name: os.environ.get(name) for name in PINNED_ENV}
    pinned = applicable() and os.environ.get("UNDO_NUMERICS", "pinned") != "native" and env == PINNED_ENV
    return {"pinned": pinned, "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(), **env,
            "machine": platform.machine(), "cpu_vendor": cpu_vendor()}
