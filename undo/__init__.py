"""undo: reproduce and extend "Distillation Robustifies Unlearning" (UNDO, NeurIPS 2025)."""

from . import numerics as _numerics

__version__ = "0.1.0"

# Before PyTorch runs anything: the same CPU code path on every x86-64 machine (undo/numerics.py).
_numerics.pin()
