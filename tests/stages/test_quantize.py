"""Stage ``quantize`` (App. F.2, Table 14): a model evaluated at full precision and at every 4-bit mode, each mode's
record saying what ran; an unknown mode, or a mode this machine cannot run, is one line and nothing is stored."""

import json

from undo import quantize
from undo.stages import quantize as quantize_stage

from .helpers import cli_errors, run_smoke, write_tofu_configs

ATTACK = ("stage: quantize\nmodel: model.yaml\nmodes: [none, rtn-int4]\ngroup_size: 16\n"
          "eval: {kind: tofu, tofu: {items: tofu.yaml, format_from: qa_full.yaml, holdout_split: null, max_items: 4, "
          "max_new_tokens: 4}}\n")


def test_each_mode_is_evaluated_and_says_which_backend_ran(tmp_path):
    write_tofu_configs(tmp_path)
    (tmp_path / "q.yaml").write_text(ATTACK)
    node = run_smoke(tmp_path, "q.yaml")[-1]
    summary = json.loads((node.artifact.path / "metrics.json").read_text())
    assert list(summary["modes"]) == ["none", "rtn-int4"]
    none, rtn = summary["modes"]["none"], summary["modes"]["rtn-int4"]
    assert none["record"]["bits"] == 32 and rtn["record"]["backend"] == "torch" and rtn["record"]["group_size"] == 16
    assert rtn["record"]["skipped"] == ["lm_head"] and rtn["record"]["quantized_layers"] == 14
    assert none["eval"]["forget_Q_A_Prob"] != rtn["eval"]["forget_Q_A_Prob"]   # the rounding changed the model
    assert summary["higher_is_better"] is True and summary["lineage"]["parameters"] == 27008  # what was attacked


def test_a_mode_that_cannot_run_here_fails_before_any_evaluation(tmp_path, monkeypatch):
    write_tofu_configs(tmp_path)
    (tmp_path / "q.yaml").write_text(ATTACK.replace("[none, rtn-int4]", "[none, bnb-nf4]"))
    monkeypatch.setattr(quantize_stage, "bnb_4bit_unavailable", lambda device: "no backend (test)")
    monkeypatch.setattr(quantize_stage, "make_evaluator", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    code, errors = cli_errors(tmp_path, "q.yaml")
    assert code != 0 and len(errors) == 1
    assert "modes: bnb-nf4 cannot run on cpu: no backend (test)" in errors[0] and "rtn-int4" in errors[0]
    assert not any((tmp_path / "artifacts").glob("quantize/*/DONE"))


def test_an_unknown_mode_is_refused_naming_the_key(tmp_path):
    write_tofu_configs(tmp_path)
    (tmp_path / "q.yaml").write_text(ATTACK.replace("[none, rtn-int4]", "[none, int3]"))
    code, errors = cli_errors(tmp_path, "q.yaml")
    assert code != 0 and errors == [f"error: {tmp_path / 'q.yaml'}: modes: unknown quantization mode 'int3' "
                                    f"(known: {', '.join(quantize.QUANT_MODES)})"]
