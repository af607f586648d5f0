"""Shared figure style and helpers for the ``figures/`` scripts (headless Agg backend, atomic saves).

Every paper figure script draws with these so the figures look alike: ``apply_style()`` before drawing,
``plot_envelope`` for relearning curves (the attacker-best line in bold, seeds as a light band),
``alpha_colors`` for a consistent α palette, and ``save`` to write ``<base>.png`` + ``<base>.pdf`` atomically.

Usage::

    from undo import plotting
    plotting.apply_style()
    fig, ax = plotting.plt.subplots()
    plotting.plot_envelope(ax, steps, values, "UNDO α=0.6", "C0", band=(lo, hi))
    plotting.save(fig, Path("figures/out/fig5"))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are made from stored results on headless machines

import matplotlib.pyplot as plt  # noqa: E402

from .names import METHOD_LABELS, METHOD_ORDER, SETTING_ORDER  # noqa: E402, F401  (re-exported for the figure scripts)

__all__ = [
    "REFERENCE_COLORS",
    "alpha_colors",
    "annotate_points",
    "apply_style",
    "plot_envelope",
    "plt",
    "save",
    "with_ext",
    "write_text",
]

# Baselines keep fixed colours across figures; α values take a sequential map (see ``alpha_colors``).
REFERENCE_COLORS = {"unlearn_only": "#d62728", "data_filtering": "#222222"}

LETTERS = "abcdefghijklmnop"


def ordered(keys, order) -> list[str]:
    """``keys`` (deduplicated) with those named in ``order`` first, in that order, then the rest as given."""
    keys = list(dict.fromkeys(keys))
    return [k for k in order if k in keys] + [k for k in keys if k not in order]

STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.2,
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # embed TrueType so the PDF text stays editable/searchable
    "ps.fonttype": 42,
}

_KNOWN_EXTS = {".png", ".pdf", ".svg", ".md", ".tex"}


def apply_style() -> None:
    """Set the kit's rcParams: small fonts, no top/right spines, light grid, 150 dpi."""
    matplotlib.rcParams.update(STYLE)


def with_ext(out_base: Path, ext: str) -> Path:
    """``out_base`` + ``ext``; an output extension already on ``out_base`` (``fig5.png``) is replaced, others kept."""
    out_base = Path(out_base)
    if out_base.suffix.lower() in _KNOWN_EXTS:
        out_base = out_base.with_suffix("")
    return out_base.parent / f"{out_base.name}{ext}"


def _atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it into place (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save(fig, out_base: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``out_base.png`` and ``out_base.pdf`` atomically; returns the paths written."""
    paths = []
    for fmt in formats:
        target = with_ext(Path(out_base), f".{fmt}")
        paths.append(_atomic_write(target, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt)))
    return paths


def write_text(text: str, path: Path) -> Path:
    """Write a text file (e.g. a Markdown table) atomically."""
    return _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def markdown_header(title: str, results: dict) -> list[str]:
    """The opening lines of a figure's Markdown table: ``# title (scale: ...)`` and when its results were created."""
    lines = [f"# {title} (scale: {results.get('scale', '?')})", ""]
    if results.get("created"):
        lines += [f"Results created {results['created']}.", ""]
    return lines


def figure_legend(fig, axes, y: float = -0.02) -> None:
    """One legend under the whole figure with every distinct label of ``axes``, in first-seen order."""
    handles, labels = [], []
    for ax in getattr(axes, "flat", axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=max(len(labels), 1), bbox_to_anchor=(0.5, y))


def plot_envelope(ax, steps, values, label, color, bold: bool = True, band=None):
    """Draw one relearning curve: a bold (or thin, faint) line, plus an optional light ``band=(lo, hi)`` fill."""
    if band is not None:
        lo, hi = band
        ax.fill_between(steps, lo, hi, color=color, alpha=0.18, linewidth=0)
    kw = {"linewidth": 2.0, "alpha": 1.0} if bold else {"linewidth": 0.7, "alpha": 0.45}
    (line,) = ax.plot(steps, values, color=color, label=label, **kw)
    return line


def alpha_colors(alphas: Iterable[float], cmap: str = "viridis") -> dict[float, tuple]:
    """Map each distinct α to a colour of a sequential map, evenly by rank (so clustered α stay distinguishable).

    The map's ends are trimmed so that no α gets a near-white or near-black colour.
    """
    uniq = sorted({float(a) for a in alphas})
    cm = matplotlib.colormaps[cmap]
    if len(uniq) == 1:
        return {uniq[0]: cm(0.45)}
    lo, hi = 0.08, 0.85
    return {a: cm(lo + (hi - lo) * i / (len(uniq) - 1)) for i, a in enumerate(uniq)}


def annotate_points(ax, xs, ys, texts, fontsize: float = 6.5, pad: float = 2.0) -> list:
    """Label points without labels overlapping each other or the markers (greedy choice of four offsets).

    Call after the axis limits and the layout are final (e.g. after ``fig.tight_layout()``). Text extents are estimated from the font size, which is enough for
    short labels such as ``α=0.6``.
    """
    fig = ax.figure
    px = fig.dpi / 72.0  # pixels per point
    pts = [tuple(ax.transData.transform((x, y))) for x, y in zip(xs, ys, strict=True)]
    taken: list[tuple[float, float, float, float]] = [(u - 4 * px, v - 4 * px, u + 4 * px, v + 4 * px) for u, v in pts]
    out = []
    for (u, v), x, y, text in zip(pts, xs, ys, texts, strict=True):
        w, h = 0.6 * fontsize * len(text) * px, 1.1 * fontsize * px
        candidates = [
            (pad + 3, -pad - 3 - h / px),
            (pad + 3, pad + 1),
            (-pad - 3 - w / px, pad + 1),
            (-pad - 3 - w / px, -pad - 3 - h / px),
        ]
        best, best_hits = candidates[0], None
        for dx, dy in candidates:
            box = (u + dx * px, v + dy * px, u + dx * px + w, v + dy * px + h)
            hits = sum(not (box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1]) for b in taken)
            if best_hits is None or hits < best_hits:
                best, best_hits = (dx, dy), hits
            if hits == 0:
                break
        dx, dy = best
        taken.append((u + dx * px, v + dy * px, u + dx * px + w, v + dy * px + h))
        out.append(
            ax.annotate(
                text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize, va="bottom", ha="left"
            )
        )
    return out


def script_main(draw, doc: str, argv: list[str] | None = None) -> None:
    """The command line every figure script shares: ``python figures/figN.py RESULTS_JSON OUT_BASE``."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("results_json", type=Path, help="results JSON written by the pipeline")
    ap.add_argument("out_base", type=Path, help="output path without extension (.png, .pdf, .md, ... are written)")
    args = ap.parse_args(argv)
    for path in draw(json.loads(args.results_json.read_text(encoding="utf-8")), args.out_base):
        print(path)
