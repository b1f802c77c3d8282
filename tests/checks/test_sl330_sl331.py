"""SL330 (Qwen2 GPTQ-Int8 through transformers) and SL331 (FlashAttention-2 on a float32 load)."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import api as A

_HEAD = "from transformers import AutoModelForCausalLM\n"


def _scan(tmp_path: Path, files: dict):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return run_scan(tmp_path)[1]


def _sl331(tmp_path: Path, body: str, req: str = "transformers==4.40.2\n"):
    stack = _scan(tmp_path, {"infer.py": _HEAD + body, "requirements.txt": req})
    return list(A.flash_attention_2_on_float32_load(stack))


def test_sl331_fa2_without_dtype(tmp_path):
    assert _sl331(tmp_path / "a", 'm = AutoModelForCausalLM.from_pretrained("x", attn_implementation="flash_attention_2")\n')
    assert _sl331(tmp_path / "b", 'm = AutoModelForCausalLM.from_pretrained("x", use_flash_attention_2=True)\n')
    assert _sl331(tmp_path / "c", "import torch\nm = AutoModelForCausalLM.from_pretrained("
                                  '"x", attn_implementation="flash_attention_2", torch_dtype=torch.float32)\n')


def test_sl331_half_precision_or_other_attention_not_reported(tmp_path):
    fa = 'attn_implementation="flash_attention_2"'
    assert not _sl331(tmp_path / "a", f'm = AutoModelForCausalLM.from_pretrained("x", {fa}, torch_dtype="auto")\n')
    assert not _sl331(tmp_path / "b", 'm = AutoModelForCausalLM.from_pretrained("x", attn_implementation="sdpa")\n')
    assert not _sl331(tmp_path / "c", f'm = AutoModelForCausalLM.from_pretrained("x", {fa}).half()\n')
    assert not _sl331(tmp_path / "d", f'import torch\nm = AutoModelForCausalLM.from_pretrained("x", {fa})\n'
                                      'm = m.to(torch.bfloat16)\n')
    assert not _sl331(tmp_path / "e", f'm = AutoModelForCausalLM.from_pretrained("x", {fa}, load_in_4bit=True)\n')
    assert not _sl331(tmp_path / "f", f'from transformers import TrainingArguments\n'
                                      f'm = AutoModelForCausalLM.from_pretrained("x", {fa})\n'
                                      'args = TrainingArguments("out", bf16=True)\n')
    assert not _sl331(tmp_path / "g", f'kw = {{}}\nm = AutoModelForCausalLM.from_pretrained("x", {fa}, **kw)\n')


def test_sl331_transformers_5_defaults_to_auto_dtype(tmp_path):
    body = 'm = AutoModelForCausalLM.from_pretrained("x", attn_implementation="flash_attention_2")\n'
    assert not _sl331(tmp_path, body, req="transformers>=5.0.0\n")


_CFG = ('{"model_type": "%s", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584, '
        '"quantization_config": {"quant_method": "%s", "bits": %d, "group_size": 128}}\n')


def _sl330(tmp_path: Path, model_type="qwen2", method="gptq", bits=8, req="auto-gptq==0.7.1\n"):
    stack = _scan(tmp_path, {"m/config.json": _CFG % (model_type, method, bits), "requirements.txt": req,
                             "run.py": _HEAD + 'model = AutoModelForCausalLM.from_pretrained("m", device_map="auto")\n'})
    return list(A.qwen2_gptq_int8_through_transformers(stack))


def test_sl330_only_qwen2_gptq_8bit(tmp_path):
    assert _sl330(tmp_path / "a")
    assert not _sl330(tmp_path / "b", bits=4)
    assert not _sl330(tmp_path / "c", method="awq")
    assert not _sl330(tmp_path / "d", model_type="llama")
    assert not _sl330(tmp_path / "e", req="gptqmodel==1.7.0\n")
