"""One module per paper figure: ``draw(results, out_base) -> [paths]`` over a stored results JSON.

A figure config names its module (``script: undo.paper.figures.fig4``) and passes ``options``; Figure 10 is
Figure 4's module with ``options.bold: mean``. Each module also runs as a script:
``python -m undo.paper.figures.fig5 figures/mini/fig5.json figures/mini/fig5``.
"""
