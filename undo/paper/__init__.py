"""The paper layer: what "Distillation Robustifies Unlearning" measures, on top of the training library.

The library (``undo``) trains, unlearns, distills, attacks and evaluates; it knows nothing about paper
sections. This package reads the library's stored results the way the paper does:

- :mod:`~undo.paper.analysis`: attack envelopes, robustness and compute per seed (Sections 4-5);
- :mod:`~undo.paper.pareto`: retain/forget fronts across attack strengths (Section 6, Figure 7);
- :mod:`~undo.paper.claims`: the paper's claims as falsifiable rules with margins over seeds;
- :mod:`~undo.paper.tables`: the appendix hyperparameter tables regenerated from the configs;
- :mod:`~undo.paper.names`, :mod:`~undo.paper.plotting`: labels, colours and drawing helpers;
- :mod:`undo.paper.figures`: one module per figure, ``draw(results, out_base)``, named in a figure config
  by module (``script: undo.paper.figures.fig5``).
"""
