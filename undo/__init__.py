"""undo: reproduce and extend "Distillation Robustifies Unlearning" (UNDO, NeurIPS 2025)."""

__version__ = "0.1.0"
