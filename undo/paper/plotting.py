"""Shared figure style and helpers for the ``figures/`` scripts (headless Agg backend, atomic saves).

Every paper figure script draws with these so the figures look alike: ``apply_style()`` before drawing,
``plot_envelope`` for relearning curves (the attacker-best line in bold, seeds as a light band),
``alpha_colors`` for a consistent α palette, ``clip_outliers`` so that one diverging curve does not flatten a
panel, and ``save`` to write ``<base>.png`` + ``<base>.pdf`` atomically. Several seeds of one configuration are
drawn and tabulated alike: ``seed_stats`` / ``seed_curve`` (median, min and max over seeds), ``plot_seed_curve``
(the median line with a min–max band), ``fmt_seed_stats`` (``median [min–max]``) and ``seeds_text``.

Usage::

    from undo.paper import plotting
    plotting.apply_style()
    fig, ax = plotting.plt.subplots()
    plotting.plot_envelope(ax, steps, values, "UNDO α=0.6", "C0", band=(lo, hi))
    plotting.clip_outliers([ax])  # every panel of a row that shares the measure, before the layout
    plotting.save(fig, Path("figures/out/fig5"))
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are made from stored results on headless machines

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox, HPacker, TextArea, VPacker  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

from .names import METHOD_LABELS, METHOD_ORDER, SETTING_ORDER  # noqa: E402, F401  (re-exported for the figure scripts)

__all__ = [
    "REFERENCE_COLORS",
    "alpha_colors",
    "annotate_points",
    "apply_style",
    "clip_limits",
    "clip_outliers",
    "fmt_seed_stats",
    "fmt_seeds",
    "plot_envelope",
    "plot_seed_curve",
    "plt",
    "relearn_grid_notes",
    "save",
    "seed_curve",
    "seed_key",
    "seed_of",
    "seed_stats",
    "seeds_list",
    "seeds_text",
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


_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it into place (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE & ~_umask())  # mkstemp makes 0600; outputs get a plain file's mode (0644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save(fig, out_base: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``out_base.png`` and ``out_base.pdf`` atomically; returns the paths written.

    The PDF carries no creation date, so redrawing the same results gives the same bytes in both formats."""
    paths = []
    for fmt in formats:
        target = with_ext(Path(out_base), f".{fmt}")
        meta = {"CreationDate": None} if fmt == "pdf" else None
        paths.append(_atomic_write(target, lambda tmp, fmt=fmt, meta=meta: fig.savefig(tmp, format=fmt, metadata=meta)))
    return paths


def finish(fig, out_base: Path, title: str, *, wrap: int | None = None, rect=None) -> list[Path]:
    """A figure's last step: its title (wrapped at ``wrap`` characters), the layout (within ``rect``, room left
    for a legend below), then PNG and PDF (:func:`save`). The caller still closes ``fig``."""
    fig.suptitle(textwrap.fill(title, wrap) if wrap else title, fontsize=9)
    fig.tight_layout(rect=rect)
    return save(fig, out_base)


def write_texts(out_base: Path, texts: dict[str, str]) -> list[Path]:
    """Each text beside the figure, by extension (``{".md": markdown}``); returns the paths written."""
    return [write_text(text, with_ext(out_base, ext)) for ext, text in texts.items()]


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



# ----------------------------------------------------------------------------- seeds
# At mini and smoke scale every seed is a whole pipeline (its own reference and oracle models, teacher, students and
# relearning attacks), so a configuration of a results JSON holds one instance per seed (``tags.seed``). The figures
# show the median over seeds with a min–max band or error bars, as the paper's Figure 5 ("points denote median
# values, error bars show variation across five random seeds"), and their tables write ``median [min–max]``.

def seed_of(instance: dict):
    """The pipeline seed of a gathered instance (``tags.seed``); None for results without seeds."""
    return (instance.get("tags") or {}).get("seed")


def seed_key(seed) -> tuple:
    """Sort key of seeds: ascending, None (results without seeds) last."""
    return (seed is None, seed if isinstance(seed, (int, float)) else 0, str(seed))


def seeds_list(seeds) -> list:
    """Distinct seeds in ascending order (None, for results without seeds, last)."""
    return sorted(set(seeds), key=seed_key)


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x))


def seed_stats(values) -> dict | None:
    """``{"median", "min", "max", "n"}`` over seeds of ``values``, None and NaN (a diverged run) left out; None
    when nothing is left."""
    vals = [float(v) for v in values if not _is_missing(v)]
    if not vals:
        return None
    return {"median": float(np.median(vals)), "min": min(vals), "max": max(vals), "n": len(vals)}


def seed_curve(curves) -> dict | None:
    """Median, min and max over seeds at every step any seed logged; ``curves`` holds one ``(steps, values)`` per seed.

    Returns ``{"step", "median", "min", "max", "n"}`` (``n``: seeds with a finite value at that step), or None without
    any step. A distillation's stop rule ends seeds at different steps: past a seed's last step the statistics are
    over the seeds that got there. NaN and None values are left out; a step where no seed has one is NaN.
    """
    per_seed = [dict(zip(steps, values, strict=True)) for steps, values in curves]
    steps = sorted({s for seed in per_seed for s in seed})
    if not steps:
        return None
    out = {"step": steps, "median": [], "min": [], "max": [], "n": []}
    for step in steps:
        st = seed_stats(seed.get(step) for seed in per_seed)
        for key in ("median", "min", "max"):
            out[key].append(np.nan if st is None else st[key])
        out["n"].append(0 if st is None else st["n"])
    return out


def plot_seed_curve(ax, curve: dict, color, label: str | None = None, band_alpha: float = 0.15, **line_kw):
    """The median over seeds as a line (``line_kw`` as for ``ax.plot``) and a light min–max band where more than one
    seed is left (:func:`seed_curve`); returns the line."""
    steps = np.asarray(curve["step"], dtype=float)
    several = np.asarray(curve["n"]) > 1
    if several.any():
        ax.fill_between(steps, curve["min"], curve["max"], where=several, color=color, alpha=band_alpha, linewidth=0,
                        interpolate=False)
    (line,) = ax.plot(steps, curve["median"], color=color, label=label, **line_kw)
    return line


def fmt_seed_stats(st: dict | None, digits: int = 3, dash: str = "–") -> str:
    """A table cell: ``median [min–max]`` over seeds, just the median when they agree (or one seed), ``—`` without
    a value. ``dash="--"`` gives LaTeX's en dash."""
    if st is None or _is_missing(st["median"]):
        return "—"
    med = f"{st['median']:.{digits}f}"
    if st.get("n", 2) <= 1 or f"{st['min']:.{digits}f}" == f"{st['max']:.{digits}f}":
        return med
    return f"{med} [{st['min']:.{digits}f}{dash}{st['max']:.{digits}f}]"


def seeds_text(counts) -> str:
    """How many seeds the configurations of a figure have: ``3 seeds``, ``1 seed``, ``1–3 seeds per configuration``."""
    counts = sorted({int(c) for c in counts})
    if not counts:
        return "no seeds"
    if len(counts) == 1:
        return f"{counts[0]} seed" + ("s" if counts[0] != 1 else "")
    return f"{counts[0]}–{counts[-1]} seeds per configuration"


def fmt_seeds(seeds) -> str:
    """``seed 0`` or ``seeds 0, 2`` (None left out); empty without seeds."""
    seeds = [s for s in seeds if s is not None]
    return "" if not seeds else ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)


def relearn_grid_notes(attacks) -> list[str]:
    """Markdown bullets on relearning attacks whose learning-rate grid was extended or had a diverged rate.

    ``attacks`` holds ``(name, seed, results)`` per attack, ``results`` a relearn stage's results (``curves`` per
    learning rate, ``extra_lrs``). The grid is extended when the attacker's best rate sits at its edge; a rate that
    diverged scores NaN from then on, which the attacker's best and the average over rates both skip.
    """
    extended, diverged = {}, {}
    for name, seed, res in attacks:
        curves = (res or {}).get("curves") or {}
        extra = {k: v for k, v in ((res or {}).get("extra_lrs") or {}).items() if v}
        if extra:
            what = ", ".join(f"{v} {'above' if k == 'up' else 'below'}" for k, v in sorted(extra.items()))
            extended.setdefault((name, what, len(curves)), []).append(seed)
        for lr, c in curves.items():
            if c.get("diverged"):
                diverged.setdefault((name, lr), []).append(seed)
    lines = []
    for (name, what, n), seeds in extended.items():
        lines.append(f"- {name} ({fmt_seeds(seeds_list(seeds)) or 'all'}): attack grid extended by {what} "
                     f"({n} learning rates), the attacker's best rate was at the configured grid's edge.")
    for (name, lr), seeds in diverged.items():
        lines.append(f"- {name} ({fmt_seeds(seeds_list(seeds)) or 'all'}): learning rate {lr} diverged: NaN from "
                     "then on, left out of every statistic over learning rates.")
    return lines


# ----------------------------------------------------------------------------- off-scale values
# GradDiff drives the Korean cross-entropy to 22-35 while every other model of the language setting stays within
# about 3-8 (Figures 3 a, 4 a, 7 a, 10 a; the paper's App. B.1 lists final forget values of 30-35 too): drawn to
# scale, that one curve flattens all the others. ``clip_limits`` decides from the plotted values alone whether to
# cut such an axis; ``clip_outliers`` applies the cut, marks it and writes the values that went off scale.

FAR_OUT = 3.0  # Tukey's far-out fences: Q1 - 3 IQR and Q3 + 3 IQR
# Beyond the fences may lie at most this share of the pooled values: enough for every curve of one panel in a row of
# three to diverge (Figure 3 a: all of GradDiff's Korean CE curves), too few for a spread the measure just has.
MAX_OFF_SCALE_SHARE = 0.20
MIN_GAIN = 2.0  # clip only where it at least doubles the span left to the panel's other values
HEADROOM = 0.05  # room beyond the outermost kept value, as a share of the kept values' span
NOTE_FONTSIZE = 6.5
NOTE_PER_ROW = 4  # "off scale:" and the values, per row of the note along a top or bottom edge
_SAMPLES_PER_SEGMENT = 25  # where the off-scale note would hide a line, sampled along each segment
_OFF_SCALE_GID = "off-scale"  # marks the artists drawn here, so a second pass does not count them as data


def clip_limits(values, pool=None) -> tuple[float | None, float | None]:
    """``(low, high)`` limits at which a panel plotting ``values`` is cut; ``None`` on a side left as it is.

    ``pool`` holds the values of every panel that shows the same measure on that axis (a figure row; default:
    ``values`` alone), so that a panel is judged against the spread of its measure. The rule:

    1. the fences are Tukey's far-out fences of the pool, Q1 - 3·IQR and Q3 + 3·IQR (no cut when IQR = 0);
    2. a side is cut only if some value lies beyond its fence and at most 20 % of the pooled values do: the
       divergent curves of one panel in a row of three, not a spread of the whole measure;
    3. the limit is the outermost pooled value inside the fences plus 5 % of the kept span as headroom;
    4. the panel is cut only if that at least doubles the span left to its values inside the limits.

    NaN and None values are ignored.
    """
    vals = _finite(values)
    pool = vals if pool is None else _finite(pool)
    if vals.size == 0 or pool.size < 2:
        return None, None
    q1, q3 = np.percentile(pool, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return None, None
    low_fence, high_fence = q1 - FAR_OUT * iqr, q3 + FAR_OUT * iqr
    beyond = (pool < low_fence) | (pool > high_fence)
    if not beyond.any() or beyond.mean() > MAX_OFF_SCALE_SHARE:
        return None, None
    kept = pool[~beyond]
    pad = HEADROOM * (kept.max() - kept.min())
    low = kept.min() - pad if vals.min() < kept.min() - pad else None
    high = kept.max() + pad if vals.max() > kept.max() + pad else None
    if low is None and high is None:
        return None, None
    inside = vals[(vals >= (low if low is not None else -np.inf)) & (vals <= (high if high is not None else np.inf))]
    if inside.size == 0:  # every value of this panel is off scale: cutting would leave nothing to see
        return None, None
    left = (high if high is not None else inside.max()) - (low if low is not None else inside.min())
    if (vals.max() - vals.min()) < MIN_GAIN * left:
        return None, None
    return (None if low is None else float(low)), (None if high is None else float(high))


def clip_outliers(axes, axis: str = "y") -> list[tuple[float | None, float | None]]:
    """Cut each of ``axes`` along ``axis`` ("x" or "y") where :func:`clip_limits` says so, pooled over ``axes``.

    Pass the panels that show the same measure on that axis (a figure row), after drawing them (and after any axis
    inversion) and before the layout. On a cut side it sets the limit, draws the broken-axis sign (two short slanted
    strokes across the axis line), draws markers beyond the limit at the edge as triangles pointing off scale, and
    writes the off-scale extreme of every curve or marker set in its colour (``off scale: ↑22.0``; a named marker
    set, whose shape the triangle replaces, as ``GradDiff 22.0→``). Returns the limits per panel, ``(None, None)``
    where it is left as drawn.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    axes = [axes] if isinstance(axes, Axes) else list(getattr(axes, "flat", axes))
    series = [_plotted_series(ax, axis) for ax in axes]
    # an outline around other markers (a Pareto ring) repeats their values: it is not data of its own
    data = [np.concatenate([s["values"] for s in per if not s["hollow"]] or [np.empty(0)]) for per in series]
    pool = np.concatenate(data)
    limits = []
    for ax, per, values in zip(axes, series, data, strict=True):
        low, high = clip_limits(values, pool)
        if low is not None or high is not None:
            _cut(ax, axis, per, values, low, high)
        limits.append((low, high))
    return limits


def _finite(values) -> np.ndarray:
    """``values`` as a flat float array without None, NaN and infinities."""
    arr = np.asarray([np.nan if v is None else v for v in np.ravel(np.asarray(values, dtype=object))], dtype=float)
    return arr[np.isfinite(arr)]


def _plotted_series(ax, axis: str) -> list[dict]:
    """Every line and marker set of ``ax`` with data coordinates along ``axis``: its values there, its positions
    along the other axis (in data coordinates), colour, name and whether it shows markers."""
    other_lim = ax.get_xlim() if axis == "y" else ax.get_ylim()
    # a reference line (axhline for "y", axvline for "x") is in data coordinates along `axis` only
    reference = ax.get_yaxis_transform() if axis == "y" else ax.get_xaxis_transform()
    out = []
    for line in ax.lines:
        if line.get_gid() == _OFF_SCALE_GID:
            continue
        tf = line.get_transform()
        if tf is not ax.transData and tf is not reference:
            continue
        xs, ys = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
        values, other = (ys, xs) if axis == "y" else (xs, ys)
        if tf is reference:  # the other coordinate is an axes fraction: map it onto the current limits
            other = other_lim[0] + other * (other_lim[1] - other_lim[0])
        out.append({"values": values, "other": other, "color": line.get_color(), "name": None,
                    "markers": line.get_marker() not in (None, "None", "none", "", " "), "hollow": False})
    for coll in ax.collections:
        if not isinstance(coll, PathCollection) or coll.get_gid() == _OFF_SCALE_GID:
            continue
        if coll.get_offset_transform() is not ax.transData:
            continue
        offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        values, other = (offsets[:, 1], offsets[:, 0]) if axis == "y" else (offsets[:, 0], offsets[:, 1])
        face, edge = coll.get_facecolor(), coll.get_edgecolor()
        hollow = len(face) == 0 or not np.any(np.asarray(face)[:, 3] > 0)
        sizes = coll.get_sizes()
        label = coll.get_label()
        out.append({"values": values, "other": other, "color": tuple(edge[0]) if hollow and len(edge) else
                    (tuple(face[0]) if len(face) else "0.3"), "name": None if label.startswith("_") else label,
                    "markers": True, "hollow": hollow, "size": float(np.sqrt(sizes[0])) if len(sizes) else 6.0})
    return out


def _fmt_off_scale(value: float) -> str:
    return f"{value:.1f}" if 1 <= abs(value) < 1e4 else f"{value:.3g}"


def _cut(ax, axis: str, series: list[dict], values: np.ndarray, low: float | None, high: float | None) -> None:
    """Set the limits (a side not cut gets the usual margin around the values left), keeping an inverted axis
    inverted, and mark each cut side."""
    inside = values[(values >= (low if low is not None else -np.inf)) & (values <= (high if high is not None else np.inf))]
    top = high if high is not None else inside.max()
    bottom = low if low is not None else inside.min()
    margin = matplotlib.rcParams[f"axes.{axis}margin"] * (top - bottom)
    top, bottom = (top if high is not None else top + margin), (bottom if low is not None else bottom - margin)
    inverted = (ax.yaxis_inverted if axis == "y" else ax.xaxis_inverted)()
    (ax.set_ylim if axis == "y" else ax.set_xlim)((top, bottom) if inverted else (bottom, top))
    for limit, above in ((high, True), (low, False)):
        if limit is None:
            continue
        edge = 1.0 if above != inverted else 0.0  # where this side of the data range sits, in axes fraction
        _break_sign(ax, axis, edge)
        entries = []
        for s in series:
            off = s["values"] > limit if above else s["values"] < limit
            off &= np.isfinite(s["other"])
            if not off.any():
                continue
            if s["markers"]:
                _edge_markers(ax, axis, s, s["other"][off], edge)
            if s["hollow"]:
                continue  # an outline around other markers (e.g. a Pareto ring): those carry the value
            i = np.flatnonzero(off)[np.argmax(s["values"][off]) if above else np.argmin(s["values"][off])]
            entries.append((float(s["other"][i]), float(s["values"][i]), s["color"], s["name"]))
        if entries:
            _off_scale_note(ax, axis, entries, edge, series)


def _edge_markers(ax, axis: str, s: dict, positions: np.ndarray, edge: float) -> None:
    """Markers beyond the limit, drawn at the edge: a triangle pointing off scale (an outline keeps its shape)."""
    triangle = {("y", 1.0): "^", ("y", 0.0): "v", ("x", 1.0): ">", ("x", 0.0): "<"}[(axis, edge)]
    at = np.full(len(positions), edge)
    xy, tf = ((positions, at), ax.get_xaxis_transform()) if axis == "y" else ((at, positions), ax.get_yaxis_transform())
    size = s.get("size", 6.0)
    style = ({"marker": "o", "ms": size * 1.4, "mfc": "none", "mec": s["color"], "mew": 0.8} if s["hollow"] else
             {"marker": triangle, "ms": size * 0.9, "color": s["color"]})
    ax.plot(*xy, transform=tf, ls="none", clip_on=False, zorder=5, gid=_OFF_SCALE_GID, label="_off_scale", **style)


def _break_sign(ax, axis: str, edge: float) -> None:
    """Two short slanted strokes across the axis line near its cut end, the usual sign of a broken axis."""
    inward = -1.0 if edge == 1.0 else 1.0
    stroke = [(-1.0, -0.45), (1.0, 0.45)] if axis == "y" else [(-0.45, -1.0), (0.45, 1.0)]
    for pt in (5.0, 9.0):  # points in from the end, so both strokes sit on the axis line
        shift = inward * pt / 72
        offset = ScaledTranslation(0, shift, ax.figure.dpi_scale_trans) if axis == "y" else \
            ScaledTranslation(shift, 0, ax.figure.dpi_scale_trans)
        x, y = (0.0, edge) if axis == "y" else (edge, 0.0)
        ax.plot([x], [y], transform=ax.transAxes + offset, marker=stroke, ms=7, mew=1.0, color="0.15", ls="none",
                clip_on=False, zorder=6, gid=_OFF_SCALE_GID, label="_off_scale")


def _off_scale_note(ax, axis: str, entries: list[tuple], edge: float, series: list[dict]) -> None:
    """The off-scale values in their colours, boxed at the cut edge (rows along a top or bottom edge, a column down a
    right or left edge) where the box hides the least data, of such places the nearest to where the values leave."""
    arrow = {("y", 1.0): "↑", ("y", 0.0): "↓", ("x", 1.0): "→", ("x", 0.0): "←"}[(axis, edge)]
    lim = ax.get_xlim() if axis == "y" else ax.get_ylim()
    frac = lambda p: (p - lim[0]) / (lim[1] - lim[0])  # noqa: E731  (position along the edge, axes fraction)
    seen, items = set(), []
    for pos, value, color, name in sorted(entries, key=lambda e: (frac(e[0]), -abs(e[1]))):
        text = f"{arrow}{_fmt_off_scale(value)}" if axis == "y" else f"{_fmt_off_scale(value)}{arrow}"
        text = f"{name} {text}" if name else text
        if (text, to_rgba(color)) in seen:  # e.g. two statistics of one model with the same off-scale start
            continue
        seen.add((text, to_rgba(color)))
        items.append((frac(pos), text, color))
    texts = ["off scale:"] + [t for _, t, _ in items]
    areas = [TextArea(texts[0], textprops={"color": "0.35", "fontsize": NOTE_FONTSIZE})]
    areas += [TextArea(t, textprops={"color": c, "fontsize": NOTE_FONTSIZE}) for _, t, c in items]
    # the box's size as a share of the panel, from the font size (the layout is not final yet)
    width_pt, height_pt = (ax.get_window_extent().size * 72 / ax.figure.dpi)
    char, line = 0.55 * NOTE_FONTSIZE, 1.3 * NOTE_FONTSIZE
    inset = 6 / (width_pt if axis == "y" else height_pt)  # clear of the broken-axis sign
    if axis == "y":  # in order along the edge, in rows of a few (the panel's final width is not known yet)
        rows = [list(range(i, min(i + NOTE_PER_ROW, len(texts)))) for i in range(0, len(texts), NOTE_PER_ROW)]
        size_along = max(sum(len(texts[i]) * char + 4 for i in row) for row in rows) / width_pt
        size_across = line * len(rows) / height_pt
        starts = [items[0][0] + inset]  # from the first value along the edge
        box = VPacker(children=[HPacker(children=[areas[i] for i in row], pad=0, sep=4) for row in rows], pad=0, sep=1,
                      align="left")
    else:  # a column, top to bottom as drawn (axes fractions: 1 is the top, whichever way the axis runs)
        areas = [areas[0]] + [a for _, a in sorted(zip([f for f, *_ in items], areas[1:], strict=True),
                                                   key=lambda fa: -fa[0])]
        size_along = (line * len(texts)) / height_pt
        size_across = max(len(t) for t in texts) * char / width_pt
        starts = [float(np.mean([f for f, *_ in items])) - size_along / 2]  # centred on the values
        box = VPacker(children=areas, pad=0, sep=1, align="right" if edge == 1.0 else "left")
    starts = [min(max(u, inset), max(1 - inset - size_along, inset)) for u in starts]
    starts += list(np.linspace(inset, max(1 - inset - size_along, inset), 21))  # and anywhere along the edge
    across = (edge - size_across, edge) if edge == 1.0 else (edge, edge + size_across)
    data_along, data_across, weight = _data_fractions(ax, axis, series)

    def cost(u):  # how much data the box would hide if it started at u along the edge
        inside_along = (data_along >= u - 0.01) & (data_along <= u + size_along + 0.01)
        inside_across = (data_across >= across[0] - 0.01) & (data_across <= across[1] + 0.01)
        return float(np.sum(weight[inside_along & inside_across]))

    # the least hidden data, then the nearest to where the values leave (the first candidate)
    start = min(starts, key=lambda u: (cost(u), abs(u - starts[0])))
    # held by its end nearer the panel's side, so the panel shrinking in the layout cannot push it out of the panel
    far = start + size_along / 2 > 0.5
    anchor = start + size_along if far else start
    data_anchor = lim[0] + anchor * (lim[1] - lim[0])  # along the edge in data units, so the box moves with the data
    inward = -3 if edge == 1.0 else 3  # points
    if axis == "y":
        xy, tf, align, offset = (data_anchor, edge), ax.get_xaxis_transform(), (float(far), edge), (0, inward)
    else:
        xy, tf, align, offset = (edge, data_anchor), ax.get_yaxis_transform(), (edge, float(far)), (inward, 0)
    ax.add_artist(AnnotationBbox(box, xy, xycoords=tf, xybox=offset, boxcoords="offset points", box_alignment=align,
                                 frameon=True, pad=0.2, zorder=7, gid=_OFF_SCALE_GID, annotation_clip=False,
                                 bboxprops={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.85, "lw": 0.5}))


def _data_fractions(ax, axis: str, series: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the panel's data lies, in axes fractions along the cut edge and across it, with a weight per sample:
    lines are sampled along their segments, a marker weighs as much as a whole segment (it is easier to hide)."""
    pts, weights = [], []
    for s in series:
        xy = np.column_stack([s["other"], s["values"]] if axis == "y" else [s["values"], s["other"]])
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if s["markers"]:
            pts.append(xy)
            weights.append(np.full(len(xy), float(_SAMPLES_PER_SEGMENT)))
        elif len(xy) > 1:
            t = np.linspace(0, 1, _SAMPLES_PER_SEGMENT)[:, None]
            pts.append(np.concatenate([a + t * (b - a) for a, b in zip(xy[:-1], xy[1:], strict=True)]))
            weights.append(np.ones(len(pts[-1])))
    if not pts:
        return np.empty(0), np.empty(0), np.empty(0)
    frac = ax.transAxes.inverted().transform(ax.transData.transform(np.concatenate(pts)))
    along, across = (frac[:, 0], frac[:, 1]) if axis == "y" else (frac[:, 1], frac[:, 0])
    return along, across, np.concatenate(weights)


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
    """The command line every figure script shares: ``python -m undo.paper.figures.figN RESULTS_JSON OUT_BASE``."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("results_json", type=Path, help="results JSON written by the pipeline")
    ap.add_argument("out_base", type=Path, help="output path without extension (.png, .pdf, .md, ... are written)")
    args = ap.parse_args(argv)
    for path in draw(json.loads(args.results_json.read_text(encoding="utf-8")), args.out_base):
        print(path)
