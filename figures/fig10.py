"""Figure 10 (App. B.2): Figure 4 with the average over learning rates in bold instead of the attacker's best.

Same results schema and layout as fig4.py (which does the drawing); only the bold statistic differs.

Usage (from the repo root)::

    python figures/fig10.py figures/mini/fig10.json figures/mini/fig10
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("undo_figure_fig4_for_fig10", Path(__file__).with_name("fig4.py"))
fig4 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fig4)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 10; writes ``out_base`` .png, .pdf and .md and returns their paths."""
    return fig4.draw(results, out_base, bold="mean")


def main(argv: list[str] | None = None) -> None:
    fig4.plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
