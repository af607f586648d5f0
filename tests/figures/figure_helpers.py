"""Helpers shared by the figure tests: load a figure script by path, and read what a drawn panel shows."""

import importlib.util
from pathlib import Path

from matplotlib.offsetbox import AnnotationBbox, TextArea

FIGURES = Path(__file__).resolve().parents[2] / "figures"


def load_figure(name: str):
    """``figures/<name>.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"figure_under_test_{name}", FIGURES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def panel_axes(fig) -> list:
    """The figure's titled panels (colour bars and hidden panels left out), in drawing order."""
    return [ax for ax in fig.axes if ax.get_title(loc="left")]


def off_scale_texts(ax) -> list[str]:
    """The texts of the off-scale notes ``undo.plotting.clip_outliers`` wrote in ``ax``, in order."""
    out = []
    for box in (a for a in ax.get_children() if isinstance(a, AnnotationBbox) and a.get_gid() == "off-scale"):
        stack = [box.offsetbox]
        while stack:
            node = stack.pop(0)
            if isinstance(node, TextArea):
                out.append(node.get_text())
            else:
                stack.extend(node.get_children())
    return out


def off_scale_lines(ax) -> list:
    """The broken-axis strokes and edge markers ``undo.plotting.clip_outliers`` drew in ``ax``."""
    return [line for line in ax.lines if line.get_gid() == "off-scale"]
