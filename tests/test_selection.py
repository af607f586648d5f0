"""The learning-rate selection rule, checked against the sweeps of Appendix B.1."""

import pytest

from undo.selection import SweepPoint, retains_enough, select_lr


def sweep(initial, rows):
    return [SweepPoint(lr=lr, initial_retain=initial, final_retain=r, final_forget=f) for lr, r, f in rows]


# App. B.1, arithmetic (accuracy): (lr, final retain, final forget); initial retain 0.875
GRADDIFF_ARITH = sweep(0.875, [(6e-6, 0.9125, 0.8375), (7e-6, 0.9075, 0.8325), (8e-6, 0.815, 0.015), (9e-6, 0.74, 0.0),
                               (1e-5, 0.7475, 0.0), (2e-5, 0.1825, 0.0), (3e-5, 0.8025, 0.28), (4e-5, 0.79, 0.1775)])
MAXENT_ARITH = sweep(0.875, [(6e-5, 0.86, 0.1275), (7e-5, 0.83, 0.0525), (8e-5, 0.8075, 0.0175), (9e-5, 0.795, 0.0125)])
MAXENT_ARITH += sweep(0.87, [(1e-4, 0.81, 0.035), (2e-4, 0.4825, 0.0), (3e-4, 0.045, 0.015), (4e-4, 0.005, 0.0225)])
# App. B.1, language MaxEnt (cross-entropy): initial retain CE 4.9359
MAXENT_LANG = sweep(4.9359, [(1e-5, 4.9439, 11.3281), (3e-5, 4.942, 11.9844), (8e-5, 4.9895, 12.3808)])


def test_picks_the_papers_arithmetic_choices():
    assert select_lr(GRADDIFF_ARITH).lr == 8e-6  # bold in App. B.1
    assert select_lr(MAXENT_ARITH).lr == 9e-5  # App. C / B.1


def test_cross_entropy_prefers_higher_forget_loss():
    assert select_lr(MAXENT_LANG, higher_is_better=False).lr == 8e-5
    too_costly = sweep(4.0, [(1e-5, 4.3, 9.0), (2e-5, 4.5, 20.0)])  # 4.5 > 4.0 * 1.1
    assert select_lr(too_costly, higher_is_better=False).lr == 1e-5


def test_tolerance_is_relative_and_inclusive():
    assert retains_enough(SweepPoint(1e-5, 0.8, 0.72, 0.1))  # exactly 10% lower
    assert not retains_enough(SweepPoint(1e-5, 0.8, 0.719, 0.1))
    assert retains_enough(SweepPoint(1e-5, 5.0, 5.5, 9.0), higher_is_better=False)
    assert not retains_enough(SweepPoint(1e-5, 5.0, 5.51, 9.0), higher_is_better=False)
    assert not retains_enough(SweepPoint(1e-5, 0.8, 0.75, 0.1), tolerance=0.05)


def test_ties_go_to_the_lower_learning_rate():
    tied = sweep(0.9, [(3e-5, 0.85, 0.0), (1e-5, 0.88, 0.0), (2e-5, 0.86, 0.0)])
    assert select_lr(tied).lr == 1e-5


def test_no_admissible_learning_rate_is_an_error():
    rmu_arith = sweep(0.875, [(6e-6, 0.7575, 0.2275), (8e-6, 0.615, 0.0675)])  # App. B.1: none within 10%
    with pytest.raises(ValueError, match="no learning rate keeps retain within 10%"):
        select_lr(rmu_arith)
    with pytest.raises(ValueError, match="empty"):
        select_lr([])
