"""Losses against hand computations."""

import math

import torch
import torch.nn.functional as F

from undo.losses import cross_entropy, forward_kl, kl_to_uniform


def test_cross_entropy_masks_padding():
    logits = torch.randn(2, 5, 7)
    ids = torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    manual = []
    for b in range(2):
        for t in range(4):
            if mask[b, t + 1]:
                manual.append(F.cross_entropy(logits[b, t][None], ids[b, t + 1][None]))
    torch.testing.assert_close(cross_entropy(logits, ids, mask), torch.stack(manual).mean())


def test_forward_kl_is_zero_for_equal_and_matches_definition():
    t = torch.randn(1, 4, 6)
    assert forward_kl(t, t).abs() < 1e-6
    s = torch.randn(1, 4, 6)
    p, q = F.softmax(t[0, :3], -1), F.softmax(s[0, :3], -1)
    manual = (p * (p.log() - q.log())).sum(-1).mean()
    torch.testing.assert_close(forward_kl(s, t), manual)


def test_kl_to_uniform():
    logits = torch.zeros(1, 3, 8)
    assert kl_to_uniform(logits).abs() < 1e-6  # already uniform
    logits = torch.randn(1, 3, 8)
    logp = F.log_softmax(logits[0, :2], -1)
    manual = (1 / 8 * (math.log(1 / 8) - logp)).sum(-1).mean()
    torch.testing.assert_close(kl_to_uniform(logits), manual)
