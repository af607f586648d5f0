"""Shrink-perturb noise: the exact formula of Section 5 / Appendix C."""

import pytest
import torch

from undo.noise import shrink_perturb


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((4, 6), 2.0))
        self.norm = torch.nn.Parameter(torch.full((6,), 3.0))


def test_formula_on_known_tensors():
    model = Tiny()
    shrink_perturb(model, alpha=0.25, beta=0.5, seed=7)
    noise = torch.empty(4, 6)
    torch.nn.init.xavier_uniform_(noise, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(model.weight.data, 0.75 * 2.0 + 0.25 * 0.5 * noise)
    torch.testing.assert_close(model.norm.data, torch.full((6,), 0.75 * 3.0))  # 1-D: only shrunk


def test_endpoints_and_seed():
    a, b, c = Tiny(), Tiny(), Tiny()
    shrink_perturb(a, alpha=0.0, beta=1.0, seed=0)
    assert torch.equal(a.weight.data, torch.full((4, 6), 2.0))
    shrink_perturb(b, alpha=1.0, beta=0.0, seed=0)
    assert torch.count_nonzero(b.weight.data) == 0
    shrink_perturb(c, alpha=1.0, beta=1.0, seed=1)
    bound = (6 / (4 + 6)) ** 0.5  # xavier-uniform limit: a fresh init
    assert c.weight.abs().max() <= bound and c.weight.std() > 0.2
    d, e = Tiny(), Tiny()
    shrink_perturb(d, 0.5, 0.1, seed=3)
    shrink_perturb(e, 0.5, 0.1, seed=4)
    assert not torch.equal(d.weight, e.weight)


@pytest.mark.parametrize("alpha, beta", [(1.5, 0.1), (-0.1, 0.1), (0.5, -1.0)])
def test_rejects_bad_parameters(alpha, beta):
    with pytest.raises(ValueError):
        shrink_perturb(Tiny(), alpha, beta, seed=0)


def test_gemma_parameters(tiny_model):
    counts = shrink_perturb(tiny_model, 0.6, 0.1, seed=0)
    assert counts["perturbed"] > 0 and counts["shrunk_only"] > 0
    # the tied embedding / lm_head is one tensor and is perturbed once
    assert tiny_model.lm_head.weight.data_ptr() == tiny_model.model.embed_tokens.weight.data_ptr()


def test_pure_shrinkage_is_exactly_a_scaled_copy(tiny_model):
    """beta = 0 (UNDO on WMDP, Section 6; the shrink-perturb adversaries, App. D.2.5): theta <- (1 - alpha) theta, bit
    for bit, norm scales included."""
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    shrink_perturb(tiny_model, 0.25, 0.0, seed=3)
    for name, value in tiny_model.state_dict().items():
        assert torch.equal(value, (1 - 0.25) * before[name]), name
