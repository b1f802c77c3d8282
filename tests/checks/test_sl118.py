"""SL118: peft cannot wrap the GPTQ QuantLinear layers the pinned auto-gptq / optimum build."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import env_peft_gptq as P

_QLORA = ("python finetune.py --model_name_or_path Qwen/Qwen-7B-Chat-Int4 --output_dir out "
          "--use_lora --q_lora\n")
_LORA = "python finetune.py --model_name_or_path ./Qwen-7B-Chat-Int4 --output_dir out --use_lora\n"
_GPTQ_CFG = ('{"architectures": ["QWenLMHeadModel"], "model_type": "qwen",\n'
             ' "quantization_config": {"bits": 4, "group_size": 128, "desc_act": false, "quant_method": "gptq"}}\n')


def _findings(tmp_path: Path, req: str, sh: str = _QLORA, files: dict = None):
    all_files = {"requirements.txt": req, "train.sh": sh}
    all_files.update(files or {})
    for name, text in all_files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    stack = run_scan(tmp_path)[1]
    return list(P.peft_cannot_wrap_gptq_layers(stack))


def test_qwen_qlora_with_peft_before_061_and_autogptq_05_optimum_114(tmp_path):
    for i, peft in enumerate(("peft==0.5.0", "peft==0.6.0", "peft>=0.5,<0.6.1")):
        got = _findings(tmp_path / str(i), f"auto-gptq==0.5.0\noptimum==1.14.0\n{peft}\n")
        assert [(f.location.path, f.location.line) for f in got] == [("requirements.txt", 3)], peft
        assert "ExLlamaV2" in got[0].message and "peft>=0.6.1" in got[0].hint


def test_qwen_qlora_working_sets_not_reported(tmp_path):
    ok = ("auto-gptq==0.5.1\noptimum==1.14.0\npeft==0.6.1\n",      # README set 1
          "auto-gptq==0.4.2\noptimum==1.13.2\npeft==0.5.0\n",      # README set 2
          "auto-gptq==0.5.0\noptimum==1.13.2\npeft==0.6.0\n",      # optimum 1.13 builds ExLlamaV2 layers too
          "auto-gptq==0.4.2\noptimum==1.14.0\npeft==0.6.0\n",      # old auto-gptq: no ExLlamaV2 default (SL123's case)
          "auto-gptq>=0.4\noptimum==1.14.0\npeft==0.6.0\n",        # auto-gptq range admits 0.4.2
          "auto-gptq==0.5.0\noptimum\npeft==0.6.0\n",              # optimum unpinned
          "auto-gptq==0.5.0\noptimum==1.14.0\npeft>=0.6.0\n")      # peft range admits 0.6.1+
    for i, req in enumerate(ok):
        assert not _findings(tmp_path / str(i), req), req


def test_peft_without_gptq_support_for_any_lora_on_a_gptq_model(tmp_path):
    got = _findings(tmp_path / "a", "peft==0.4.0\n", sh=_LORA, files={"Qwen-7B-Chat-Int4/config.json": _GPTQ_CFG})
    assert [(f.location.path, f.location.line) for f in got] == [("requirements.txt", 1)]
    assert "no GPTQ support" in got[0].message
    # the same job with peft 0.5.0 and no Qwen GPTQConfig: the exllama flags are unknown, not judged
    assert not _findings(tmp_path / "b", "auto-gptq==0.5.0\noptimum==1.14.0\npeft==0.5.0\n", sh=_LORA,
                         files={"Qwen-7B-Chat-Int4/config.json": _GPTQ_CFG})
    # an unquantized model is not a GPTQ job
    plain = _GPTQ_CFG.replace(',\n "quantization_config": {"bits": 4, "group_size": 128, "desc_act": false, '
                              '"quant_method": "gptq"}', "")
    assert not _findings(tmp_path / "c", "peft==0.4.0\n", sh=_LORA, files={"Qwen-7B-Chat-Int4/config.json": plain})


def test_qlora_flag_needs_use_lora(tmp_path):
    sh = "python finetune.py --model_name_or_path Qwen/Qwen-7B-Chat-Int4 --output_dir out --q_lora\n"
    assert not _findings(tmp_path, "auto-gptq==0.5.0\noptimum==1.14.0\npeft==0.6.0\n", sh=sh)
