"""Helpers shared by the figure tests: the module a figure config names, and what a drawn panel shows."""

import importlib
from pathlib import Path

from matplotlib.offsetbox import AnnotationBbox, TextArea

from undo.config import load_raw

REPO = Path(__file__).resolve().parents[3]
FIGURES = REPO / "figures"  # the committed outputs, figures/<scale>/


def load_figure(name: str):
    """The module that ``reproduce/<name>.yaml`` draws with (``script:``; Figure 10's is Figure 4's)."""
    script = load_raw(REPO / "reproduce" / f"{name}.yaml").data["script"]
    return importlib.import_module(script)


def panel_axes(fig) -> list:
    """The figure's titled panels (colour bars and hidden panels left out), in drawing order."""
    return [ax for ax in fig.axes if ax.get_title(loc="left")]


def off_scale_texts(ax) -> list[str]:
    """The texts of the off-scale notes ``undo.paper.plotting.clip_outliers`` wrote in ``ax``, in order."""
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
    """The broken-axis strokes and edge markers ``undo.paper.plotting.clip_outliers`` drew in ``ax``."""
    return [line for line in ax.lines if line.get_gid() == "off-scale"]
