"""Display names and orders shared by the figures, the claims report and the Pareto analysis.

Kept apart from ``undo.paper.plotting`` so that code without figures (``undo report``) need not import matplotlib.
"""

# The paper puts language first.
SETTING_ORDER = ("language", "arithmetic")
# Section 4's three unlearning methods (Figures 3, 4, 9, 10), in the paper's order.
METHOD_ORDER = ("graddiff", "maxent", "rmu")
# Every model family of Figure 7, in the paper's legend order.
ALL_METHODS = ("graddiff", "maxent", "rmu", "sam", "repnoise", "undial", "undo", "data_filtering")
METHOD_LABELS = {"graddiff": "GradDiff", "maxent": "MaxEnt", "rmu": "RMU", "sam": "SAM", "repnoise": "RepNoise",
                 "undial": "UNDIAL", "undo": "UNDO", "data_filtering": "Data Filtering"}
