"""The fast GPU path (undo.accel) against the eager fp32 reference.

On CPU: the reference path is bit-for-bit the old code; the fast path's pieces that run on
CPU (chunked losses from hidden states, FlexAttention's forward, the DDP/FSDP loss module)
give the reference values and gradients; the selection logic picks FlexAttention + bf16 +
fused AdamW for CUDA and refuses ``sdpa``. Tests marked ``gpu`` run the real thing on CUDA.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from undo import accel
from undo.losses import cross_entropy, forward_kl, kl_to_uniform
from undo.models import ModelConfig, build_model

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def tiny(seed=0, window=64, attn_cap=50.0, device="cpu"):
    cfg = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                      sliding_window=window, attn_logit_softcapping=attn_cap)
    return build_model(cfg, vocab_size=300, seed=seed, device=device)


def ids(batch=2, seq=16, device="cpu"):
    return torch.randint(3, 300, (batch, seq), generator=torch.Generator().manual_seed(1)).to(device)


def param_grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


# --- selection -------------------------------------------------------------------------------

def test_cpu_defaults_to_the_reference_path(monkeypatch):
    monkeypatch.delenv("UNDO_ACCEL", raising=False)
    acc = accel.select("cpu")
    assert not acc.fast and acc.attention == "eager" and acc.autocast_dtype is None
    assert not acc.chunked_loss and not acc.fused_adamw and not acc.compile
    assert accel.adamw_options([torch.nn.Parameter(torch.zeros(1))]) == {}


def test_cuda_selects_flex_bf16_chunked_fused(monkeypatch):
    for var in ("UNDO_ACCEL", "UNDO_ATTENTION", "UNDO_PRECISION", "UNDO_COMPILE", "UNDO_LOSS_CHUNK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    acc = accel.select("cuda:0")
    assert acc.fast and acc.attention == "flex_attention" and acc.autocast_dtype == torch.bfloat16
    assert acc.chunked_loss and acc.fused_adamw and not acc.compile
    monkeypatch.setenv("UNDO_COMPILE", "1")
    monkeypatch.setenv("UNDO_LOSS_CHUNK", "128")
    acc = accel.select("cuda")
    assert acc.compile and acc.chunk_positions == 128
    monkeypatch.setenv("UNDO_ACCEL", "reference")
    assert not accel.select("cuda").fast
    with accel.use("fast"):  # the benchmark's override wins over the environment
        assert accel.select("cuda").fast


@pytest.mark.parametrize("name", ["sdpa", "paged|sdpa", "flash_attention_3", "bogus"])
def test_attention_that_drops_the_softcap_is_refused(name, monkeypatch):
    with pytest.raises(ValueError):
        accel.check_attention(name)
    monkeypatch.setenv("UNDO_ATTENTION", name)
    with pytest.raises(ValueError):
        accel.select("cpu", mode="fast")


def test_flash_attention_needs_a_softcap_capable_flash_attn(monkeypatch):
    monkeypatch.setattr(accel, "_flash_attn_ok", lambda: False)
    with pytest.raises(ValueError, match="2.6.3"):
        accel.check_attention("flash_attention_2")
    monkeypatch.setattr(accel, "_flash_attn_ok", lambda: True)
    assert accel.check_attention("flash_attention_2") == "flash_attention_2"


def test_transformers_supports_flex_but_not_sdpa_for_gemma2():
    from transformers import Gemma2ForCausalLM

    assert Gemma2ForCausalLM._supports_flex_attn and not Gemma2ForCausalLM._supports_sdpa


# --- reference path: unchanged ---------------------------------------------------------------

def test_reference_helpers_are_bit_for_bit_the_old_code(monkeypatch):
    monkeypatch.delenv("UNDO_ACCEL", raising=False)
    student, teacher, x = tiny(0), tiny(1), ids()
    assert torch.equal(accel.lm_cross_entropy(student, x), cross_entropy(student(input_ids=x).logits, x))
    assert torch.equal(accel.lm_kl_to_uniform(student, x), kl_to_uniform(student(input_ids=x).logits))
    with torch.no_grad():
        t_logits = teacher(input_ids=x).logits
    assert torch.equal(accel.lm_forward_kl(student, teacher, x), forward_kl(student(input_ids=x).logits, t_logits))


@pytest.mark.parametrize("mode", ["reference", "fast"])
def test_a_right_padded_prompt_answer_batch_scores_only_its_answers(mode, monkeypatch):
    """A Batch's loss mask selects the scored tokens, and what stands in the right padding changes nothing (no real
    token attends to a later pad), on both paths; forward KL also takes App. F's temperature there."""
    monkeypatch.setenv("UNDO_LOSS_CHUNK", "5")
    from undo.batch import Batch

    student, teacher, x = tiny(0), tiny(1), ids()
    answer = torch.zeros_like(x)
    answer[:, 6:12] = 1                      # prompt 0-5, answer 6-11, right padding 12-15
    other_pads = x.clone()
    other_pads[:, 12:] = 7
    with accel.use(mode), torch.no_grad():
        ce = accel.lm_cross_entropy(student, Batch(x, loss_mask=answer))
        assert torch.allclose(ce, cross_entropy(student(input_ids=x).logits, x, answer), rtol=1e-5)
        assert torch.allclose(ce, accel.lm_cross_entropy(student, Batch(other_pads, loss_mask=answer)), rtol=1e-6)
        kl = accel.lm_forward_kl(student, teacher, Batch(x, loss_mask=answer), temperature=4.0)
        reference = forward_kl(student(input_ids=x).logits, teacher(input_ids=x).logits, answer, temperature=4.0)
        assert torch.allclose(kl, reference, rtol=1e-5)
        assert not torch.allclose(kl, accel.lm_forward_kl(student, teacher, Batch(x, loss_mask=answer)))
    with pytest.raises(ValueError, match="carries its own mask"):
        accel.lm_cross_entropy(student, Batch(x, loss_mask=answer), answer)


# --- fast path pieces on CPU (fp32) ----------------------------------------------------------

@pytest.mark.parametrize("loss", ["ce", "kl", "uniform"])
def test_fast_path_losses_and_grads_match_reference_on_cpu(loss, monkeypatch):
    monkeypatch.setenv("UNDO_LOSS_CHUNK", "5")  # several chunks, and a remainder
    student, teacher, x = tiny(0), tiny(1), ids()

    def run(mode):
        with accel.use(mode):
            if loss == "ce":
                value = accel.lm_cross_entropy(student, x)
            elif loss == "kl":
                value = accel.lm_forward_kl(student, teacher, x)
            else:
                value = accel.lm_kl_to_uniform(student, x)
        return value.detach(), param_grads(student, value)

    ref_value, ref_grads = run("reference")
    value, grads = run("fast")
    assert accel.select("cpu", mode="fast").chunked_loss
    assert rel(value, ref_value) < 1e-5
    assert set(grads) == set(ref_grads)
    for name, g in grads.items():
        assert rel(g, ref_grads[name]) < 1e-4, name  # tiny grads of single parameters: allow 1e-4


def test_causal_lm_loss_module_matches_the_helpers():
    student, teacher, x = tiny(0), tiny(1), ids()
    module = accel.CausalLMLoss(student)
    with accel.use("fast"):
        assert torch.allclose(module(x), accel.lm_cross_entropy(student, x), rtol=1e-6)
        acc = accel.select("cpu")
        with torch.no_grad():
            th = accel.final_hidden(teacher, x, acc)
        w, cap = accel._head(teacher)
        assert torch.allclose(module(x, th, w, cap), accel.lm_forward_kl(student, teacher, x), rtol=1e-5)


@pytest.fixture
def uncompiled_flex(monkeypatch):
    """transformers compiles FlexAttention (and its block mask) with inductor: ~45 s of C++
    compilation on CPU. The uncompiled kernel computes the same function, in ~1 s."""
    import transformers.integrations.flex_attention as hf_flex
    import transformers.masking_utils as hf_masks
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    monkeypatch.setattr(hf_flex, "compile_friendly_flex_attention",
                        lambda q, k, v, training=False, **kw: flex_attention(q, k, v, **kw))
    monkeypatch.setattr(hf_masks, "create_block_mask", lambda *a, **kw: create_block_mask(*a, **{**kw, "_compile": False}))


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_attention_gives_the_eager_logits_on_cpu(uncompiled_flex, monkeypatch):
    """FlexAttention with Gemma-2's softcap as score_mod = eager attention, with the cap binding
    (cap 0.5 on scores of order 1) and a sliding window shorter than the sequence."""
    monkeypatch.setenv("UNDO_ATTENTION", "flex_attention")
    model, x = tiny(0, window=6, attn_cap=0.5).eval(), ids()
    with torch.no_grad():
        q = model.model.layers[0].self_attn.q_proj.weight
        q.mul_(20)  # scores far beyond the cap: tanh saturates
        ref = model(input_ids=x).logits
        acc = accel.select("cpu", mode="fast")
        assert acc.attention == "flex_attention" and acc.autocast_dtype is None
        calls = []
        import transformers.integrations.flex_attention as hf_flex
        original = hf_flex.compile_friendly_flex_attention
        monkeypatch.setattr(hf_flex, "compile_friendly_flex_attention",
                            lambda *a, **kw: calls.append(1) or original(*a, **kw))
        with accel.fast_forward(model, acc):
            out = model(input_ids=x).logits
        assert len(calls) == 2  # both layers went through FlexAttention
        assert model.config._attn_implementation == "eager"  # restored for evaluation
        assert rel(out, ref) < 1e-5
        # and the cap matters: without it the logits differ
        for layer in model.model.layers:
            layer.self_attn.attn_logit_softcapping = None
        assert rel(model(input_ids=x).logits, ref) > 1e-3


# --- on a GPU ---------------------------------------------------------------------------------

@pytest.mark.gpu
@needs_cuda
def test_gpu_flex_fp32_matches_eager():
    model, x = tiny(0, window=6, attn_cap=0.5, device="cuda").eval(), ids(device="cuda")
    with torch.no_grad():
        ref = model(input_ids=x).logits
        fp32_flex = dataclasses.replace(accel.select("cuda", mode="fast"), autocast_dtype=None)
        with accel.fast_forward(model, fp32_flex):
            out = model(input_ids=x).logits
    assert rel(out, ref) < 1e-4


@pytest.mark.gpu
@needs_cuda
def test_gpu_fast_path_training_step_tracks_reference():
    x = ids(batch=4, seq=32, device="cuda")
    losses = {}
    for mode in ("reference", "fast"):
        model = tiny(0, device="cuda")
        with accel.use(mode):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, **accel.adamw_options(model.parameters()))
            assert bool(opt.defaults.get("fused")) == (mode == "fast")
            for _ in range(3):
                loss = accel.lm_cross_entropy(model, x)
                loss.backward()
                opt.step()
                opt.zero_grad()
            losses[mode] = loss.item()
    assert losses["fast"] == pytest.approx(losses["reference"], rel=2e-2)  # bf16 vs fp32
