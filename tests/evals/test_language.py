"""Language evaluation: token-weighted held-out cross-entropy on retain and forget windows."""


def test_token_ce_is_token_weighted_and_batch_invariant(tiny_model):
    import math

    import numpy as np
    import torch
    import torch.nn.functional as F

    from undo.evals.language import token_ce

    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 300, size=(7, 12)).astype(np.int32)
    tokens[5, 8:] = 0  # a padded row: its pad targets must not count
    with torch.no_grad():
        logits = tiny_model(input_ids=torch.from_numpy(tokens.astype(np.int64))).logits
    targets = torch.from_numpy(tokens[:, 1:].astype(np.int64))
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    keep = (targets.reshape(-1) != 0).float()
    expected = float((ce * keep).sum() / keep.sum())  # one mean over all counted tokens, not a mean of batch means
    for bs in (1, 3, 16):
        assert math.isclose(token_ce(tiny_model, tokens, batch_size=bs), expected, rel_tol=1e-5)


def test_language_eval_metrics_and_direction(tiny_model):
    import numpy as np
    import pytest

    from undo.evals.language import LanguageEval, LanguageEvalConfig, token_ce

    cfg = LanguageEvalConfig(retain="en.yaml", forget="ko.yaml", batch_size=4)
    rng = np.random.default_rng(1)
    en, ko = rng.integers(3, 150, size=(6, 10)), rng.integers(150, 300, size=(5, 10))
    evaluate = LanguageEval(cfg, en, ko)
    tiny_model.train()
    m = evaluate(tiny_model)
    assert tiny_model.training  # restored
    assert m["retain"] == m["english_ce"] == token_ce(tiny_model, en, 4)
    assert m["forget"] == m["korean_ce"] == token_ce(tiny_model, ko, 4)
    capped = LanguageEval(LanguageEvalConfig(retain="a", forget="b", max_sequences=2), en, ko)
    assert len(capped.sets["retain"]) == 2
    with pytest.raises(ValueError, match="no windows"):
        LanguageEval(cfg, en[:0], ko)
