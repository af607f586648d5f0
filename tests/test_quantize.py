"""INT4 quantization attack (App. F.2, Table 14): group-wise RTN, bitsandbytes FP4/NF4, and the refusals."""

import pytest
import torch

from undo import quantize
from undo.quantize import QUANT_MODES, QuantizationUnavailable, load_quantized, rtn_fake_quant, rtn_quantize_

# intermediate 160: down_proj rows are one full group of 128 plus a shorter tail of 32; every other Linear has
# in_features 64, so a whole row is one (short) group.
HIDDEN, INTERMEDIATE, LAYERS, VOCAB = 64, 160, 2, 128
LINEARS_PER_LAYER = 7  # q, k, v, o, gate, up, down


def _tiny_gemma(seed: int = 0):
    from transformers import Gemma2Config, Gemma2ForCausalLM

    cfg = Gemma2Config(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=LAYERS,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
                       max_position_embeddings=64, sliding_window=64, pad_token_id=0, eos_token_id=1, bos_token_id=2,
                       tie_word_embeddings=True)
    torch.manual_seed(seed)
    return Gemma2ForCausalLM._from_config(cfg, attn_implementation="eager", dtype=torch.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_gemma")
    _tiny_gemma().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def reference(saved):
    model, _ = load_quantized(saved, "none")
    return model


def _linear_weights(model) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n != "lm_head"}


def _logits(model) -> torch.Tensor:
    ids = torch.randint(3, VOCAB, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(ids).logits


def _per_element(groups: torch.Tensor, in_features: int, group_size: int) -> torch.Tensor:
    """(out, n_groups) -> (out, in_features): each weight's own group value."""
    return groups.repeat_interleave(group_size, dim=1)[:, :in_features]


def _assert_rtn_of(original: torch.Tensor, dequantised: torch.Tensor, group_size: int, bits: int = 4):
    """Within half a step of the original, on at most 2**bits integer levels per group."""
    _, scales, zeros = rtn_fake_quant(original, bits, group_size)
    scale = _per_element(scales, original.shape[1], group_size)
    zero = _per_element(zeros, original.shape[1], group_size)
    assert ((dequantised - original).abs() <= scale / 2 * (1 + 1e-5) + 1e-12).all()
    levels = dequantised / scale + zero
    torch.testing.assert_close(levels, levels.round(), atol=1e-3, rtol=0)  # on the integer grid
    assert levels.round().min() >= 0 and levels.round().max() <= 2 ** bits - 1


# ----------------------------------------------------------------------------- the RTN tensor function

def test_rtn_error_within_half_step_and_16_levels():
    weight = torch.randn(8, 300)  # groups of 128, 128 and a shorter tail of 44
    dequantised, scales, zeros = rtn_fake_quant(weight, 4, 128)
    assert dequantised.shape == weight.shape and dequantised.dtype == weight.dtype
    assert scales.shape == zeros.shape == (8, 3)
    assert torch.equal(zeros, zeros.round()) and zeros.min() >= 0 and zeros.max() <= 15  # a true 4-bit zero point
    _assert_rtn_of(weight, dequantised, 128)
    bounds = [(0, 128), (128, 256), (256, 300)]
    for row in range(8):
        for g, (a, b) in enumerate(bounds):
            values = dequantised[row, a:b].unique()
            # a zero-mean random group spans the whole grid: its min and max land on the two end levels
            assert 8 <= values.numel() <= 16
            assert scales[row, g] == pytest.approx((weight[row, a:b].max() - weight[row, a:b].min()).item() / 15,
                                                   rel=1e-5)
    assert not torch.equal(dequantised, weight)


def test_scales_are_per_group():
    small = torch.rand(1, 32) * 0.02 - 0.01
    large = torch.rand(1, 32) * 200 - 100
    weight = torch.cat([large, small], dim=1)
    dequantised, scales, _ = rtn_fake_quant(weight, 4, 32)
    assert scales[0, 0] > 1000 * scales[0, 1]
    small_error = (dequantised[:, 32:] - small).norm() / small.norm()
    assert small_error < 0.1
    # one group per row instead: the small weights fall below half a step of the large scale and all become 0
    row_wise, _, _ = rtn_fake_quant(weight, 4, 64)
    assert torch.count_nonzero(row_wise[:, 32:]) == 0


def test_rtn_edge_groups():
    zero_row = torch.zeros(2, 10)
    assert torch.equal(rtn_fake_quant(zero_row, 4, 4)[0], zero_row)
    positive = torch.linspace(1.0, 2.0, 16).repeat(3, 1)  # all-positive: the range still holds 0, zero point 0
    dequantised, scales, zeros = rtn_fake_quant(positive, 4, 16)
    assert torch.equal(zeros, torch.zeros(3, 1)) and torch.allclose(scales, torch.full((3, 1), 2.0 / 15))
    _assert_rtn_of(positive, dequantised, 16)
    row = torch.randn(3, 20)  # a group wider than the row: one group
    assert rtn_fake_quant(row, 4, 128)[1].shape == (3, 1)
    half = torch.randn(4, 64, dtype=torch.float64)
    assert rtn_fake_quant(half, 4, 16)[0].dtype == torch.float64


@pytest.mark.parametrize("kwargs", [{"bits": 1}, {"bits": 9}, {"group_size": 0}])
def test_rtn_rejects_bad_arguments(kwargs):
    args = {"bits": 4, "group_size": 128} | kwargs
    with pytest.raises(ValueError):
        rtn_fake_quant(torch.randn(4, 8), **args)
    with pytest.raises(ValueError, match="2-D"):
        rtn_fake_quant(torch.randn(8), 4, 128)


# ----------------------------------------------------------------------------- rtn-int4 on a model

def test_rtn_model_weights_head_and_record(saved, reference):
    model, record = load_quantized(saved, "rtn-int4")
    original = _linear_weights(reference)
    assert record["mode"] == "rtn-int4" and record["backend"] == "torch" and record["bitsandbytes"] is None
    assert record["bits"] == 4 and record["group_size"] == 128 and record["skipped"] == ["lm_head"]
    assert record["quantized_layers"] == LINEARS_PER_LAYER * LAYERS == len(original)
    assert record["quantized_params"] == sum(w.numel() for w in original.values())
    quantized = _linear_weights(model)
    for name, weight in original.items():
        assert not torch.equal(quantized[name], weight), name
        _assert_rtn_of(weight, quantized[name], 128)
    # the head is the embedding, untouched; norms (1-D) untouched
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert torch.equal(model.model.embed_tokens.weight, reference.model.embed_tokens.weight)
    norms = [(n, p) for n, p in model.named_parameters() if p.dim() == 1]
    assert norms and all(torch.equal(p, reference.get_parameter(n)) for n, p in norms)
    assert not model.training


def test_rtn_is_idempotent(saved):
    model, _ = load_quantized(saved, "rtn-int4", group_size=32)
    once = _linear_weights(model)
    record = rtn_quantize_(model, group_size=32)
    assert record["quantized_layers"] == len(once)
    for name, weight in _linear_weights(model).items():
        torch.testing.assert_close(weight, once[name], atol=1e-7, rtol=1e-6)


def test_rtn_logits_differ_but_stay_close(saved, reference):
    ref = _logits(reference)
    relative = {}
    for group_size in (128, 32):
        model, _ = load_quantized(saved, "rtn-int4", group_size=group_size)
        logits = _logits(model)
        assert torch.isfinite(logits).all()
        relative[group_size] = ((logits - ref).norm() / ref.norm()).item()
        # measured 0.26 (g128) and 0.22 (g32) on this random-init model, whose N(0, 0.02) weights are all noise
        assert 1e-3 < relative[group_size] < 0.5, (group_size, relative)
    assert relative[32] < relative[128]  # finer groups, finer steps


def test_rtn_skips_a_tied_head_even_when_not_named():
    model = _tiny_gemma()
    embedding = model.model.embed_tokens.weight.detach().clone()
    record = rtn_quantize_(model, skip=())
    assert record["skipped"] == ["lm_head"]
    assert torch.equal(model.model.embed_tokens.weight, embedding)


def test_rtn_refuses_non_finite_weights():
    model = _tiny_gemma()
    with torch.no_grad():
        model.model.layers[1].mlp.up_proj.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"model\.layers\.1\.mlp\.up_proj"):
        rtn_quantize_(model)


def test_none_is_plain_fp32(saved, reference):
    model, record = load_quantized(saved, "none")
    assert record["bits"] == 32 and record["quantized_layers"] == 0 and record["skipped"] == []
    assert all(p.dtype == torch.float32 for p in model.parameters())
    torch.testing.assert_close(_logits(model), _logits(reference), atol=0, rtol=0)


# ----------------------------------------------------------------------------- refusals

def test_unknown_mode_is_refused(saved):
    with pytest.raises(ValueError) as err:
        load_quantized(saved, "gptq-int4")
    message = str(err.value)
    assert "\n" not in message and "gptq-int4" in message and all(mode in message for mode in QUANT_MODES)


@pytest.mark.parametrize("mode", ["bnb-fp4", "bnb-nf4"])
def test_bnb_without_backend_is_one_line(saved, monkeypatch, mode):
    monkeypatch.setattr(quantize, "bnb_4bit_unavailable", lambda device: "no 4-bit kernel for cpu (test)")
    with pytest.raises(QuantizationUnavailable) as err:
        load_quantized(saved, mode)
    message = str(err.value)
    assert isinstance(err.value, RuntimeError)
    assert "\n" not in message and mode in message and "no 4-bit kernel" in message and "rtn-int4" in message


def test_bnb_on_cuda_without_cuda(saved, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "CUDA" in quantize.bnb_4bit_unavailable("cuda")
    with pytest.raises(QuantizationUnavailable, match="needs a CUDA GPU") as err:
        load_quantized(saved, "bnb-nf4", device="cuda")
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- bitsandbytes 4-bit, where it runs

def _require_bnb(device: str) -> None:
    reason = quantize.bnb_4bit_unavailable(device)
    if reason is not None:
        pytest.skip(f"bitsandbytes 4-bit on {device}: {reason}")


def test_bnb_fp4_and_nf4_on_cpu(saved, reference):
    _require_bnb("cpu")
    from bitsandbytes.nn import Linear4bit

    ref = _logits(reference)
    logits = {}
    for mode in ("bnb-fp4", "bnb-nf4"):
        model, record = load_quantized(saved, mode)
        assert record["backend"] == "bitsandbytes" and record["bitsandbytes"] and record["bits"] == 4
        assert record["group_size"] == 64 and record["skipped"] == ["lm_head"]
        assert record["quantized_layers"] == LINEARS_PER_LAYER * LAYERS
        assert record["quantized_params"] == sum(w.numel() for w in _linear_weights(reference).values())
        layer = model.model.layers[0].mlp.down_proj
        assert isinstance(layer, Linear4bit) and layer.weight.quant_state.quant_type == mode.removeprefix("bnb-")
        assert type(model.lm_head) is torch.nn.Linear and model.lm_head.weight.dtype == torch.float32
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        logits[mode] = _logits(model)
        assert torch.isfinite(logits[mode]).all()
        relative = ((logits[mode] - ref).norm() / ref.norm()).item()
        assert 1e-3 < relative < 0.6, (mode, relative)  # measured: fp4 0.32, nf4 0.23
    assert (logits["bnb-fp4"] - logits["bnb-nf4"]).abs().max() > 1e-3


@pytest.mark.gpu
def test_quantized_modes_on_cuda(saved, reference):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    _require_bnb("cuda")
    ref = _logits(reference)
    cpu_rtn, _ = load_quantized(saved, "rtn-int4")
    gpu_rtn, _ = load_quantized(saved, "rtn-int4", device="cuda")
    for name, weight in _linear_weights(cpu_rtn).items():
        torch.testing.assert_close(gpu_rtn.get_submodule(name).weight.cpu(), weight, atol=1e-6, rtol=1e-5)
    for mode in ("bnb-fp4", "bnb-nf4"):
        model, record = load_quantized(saved, mode, device="cuda")
        assert record["quantized_layers"] == LINEARS_PER_LAYER * LAYERS
        ids = torch.randint(3, VOCAB, (2, 24), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            logits = model(ids.cuda()).logits.cpu()
        assert torch.isfinite(logits).all() and ((logits - ref).norm() / ref.norm()) < 0.8


def test_bnb_on_cpu_multiplies_in_float32_whatever_the_cpu(saved, monkeypatch):
    """bitsandbytes switches to a bfloat16 fused kernel on CPUs with AVX512-BF16; the kit turns it off, so an INT4
    result is the same on every CPU: the quantized model equals the float32 model with bnb's dequantized weights."""
    _require_bnb("cpu")
    import bitsandbytes.functional as bnb_functional
    import bitsandbytes.nn.modules as bnb_modules
    from bitsandbytes.nn import Linear4bit

    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: True)  # as on a Zen 4 or Sapphire Rapids CPU
    model, record = load_quantized(saved, "bnb-nf4")
    layers = {n: m for n, m in model.named_modules() if isinstance(m, Linear4bit)}
    assert layers and not any(m.support_avx512bf16_for_cpu for m in layers.values())
    assert record["cpu_kernel"].startswith("dequantize to float32")
    dequantized = {n: bnb_functional.dequantize_4bit(m.weight.data, m.weight.quant_state).float()
                   for n, m in layers.items()}
    logits = _logits(model)
    assert not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers.values())
    full, _ = load_quantized(saved, "none")
    with torch.no_grad():
        for name, weight in dequantized.items():
            full.get_submodule(name).weight.copy_(weight)
    torch.testing.assert_close(logits, _logits(full), atol=1e-5, rtol=1e-5)
