"""Training-job rules: in-memory stacks and small trees (SL201/SL202/SL301/SL501 run unregistered)."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import training as T


def _scan(tmp_path: Path, files: dict, gpu=None):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return run_scan(tmp_path, gpu=gpu)[1]


def test_lora_target_names_forms():
    assert T.lora_target_names("q_proj,v_proj") == ["q_proj", "v_proj"]
    assert T.lora_target_names(["self_attn.q_proj"]) == ["q_proj"]
    assert T.lora_target_names("all") is None
    assert T.lora_target_names(["all-linear"]) is None
    assert T.lora_target_names(r"model.layers.[\d]+.(mlp|self_attn).q_proj") is None
    assert T.lora_target_names("${TARGETS}") is None


def test_lora_targets_of_qwen1_on_qwen2(tmp_path):
    stack = _scan(tmp_path, {
        "m/config.json": '{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}',
        "train.yaml": "model_name_or_path: ./m\nstage: sft\nfinetuning_type: lora\nlora_target: c_attn\n"})
    got = list(T.lora_target_modules_not_in_model(stack))
    assert [(f.location.path, f.location.line) for f in got] == [("train.yaml", 4)]
    ok = _scan(tmp_path, {"train.yaml": "model_name_or_path: ./m\nstage: sft\nfinetuning_type: lora\nlora_target: all\n"})
    assert not list(T.lora_target_modules_not_in_model(ok))


def test_lora_targets_in_python_script(tmp_path):
    stack = _scan(tmp_path, {
        "m/config.json": '{"model_type": "chatglm"}',
        "ft.py": "from transformers import AutoModel\nfrom peft import LoraConfig\n"
                 "model = AutoModel.from_pretrained('./m', trust_remote_code=True)\n"
                 "cfg = LoraConfig(r=8, target_modules=['q_proj', 'v_proj'])\n"})
    got = list(T.lora_target_modules_not_in_model(stack))
    assert [(f.location.path, f.location.line) for f in got] == [("ft.py", 4)]


def test_fp16_and_bf16(tmp_path):
    stack = _scan(tmp_path, {"a.yaml": "base_model: x/y\ndatasets: []\nbf16: true\nfp16: true\n",
                             "ds.json": '{"fp16": {"enabled": "auto"}, "bf16": {"enabled": "auto"}, "zero_optimization": {}}'})
    got = list(T.fp16_and_bf16_both_enabled(stack))
    assert [f.location.path for f in got] == ["a.yaml"]


def test_bf16_on_t4(tmp_path):
    files = {"a.yaml": "base_model: x/y\ndatasets: []\nbf16: true\nflash_attention: true\n"}
    assert len(list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files, gpu="T4")))) == 2
    assert not list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files, gpu="A100")))
    assert not list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files)))


def test_deepspeed_batch(tmp_path):
    bad = _scan(tmp_path, {"ds.json": '{"train_batch_size": 30, "train_micro_batch_size_per_gpu": 4, '
                                      '"gradient_accumulation_steps": 4, "zero_optimization": {"stage": 2}}'})
    assert len(list(T.deepspeed_batch_size_arithmetic(bad))) == 1
    ok = _scan(tmp_path, {"ds.json": '{"train_batch_size": "auto", "train_micro_batch_size_per_gpu": 4, '
                                     '"gradient_accumulation_steps": 4, "zero_optimization": {"stage": 2}}'})
    assert not list(T.deepspeed_batch_size_arithmetic(ok))


def test_mp_from_name_and_hf_conversion(tmp_path):
    stack = _scan(tmp_path, {"run.sh": "torchrun --nproc_per_node 8 example_text_completion.py --ckpt_dir llama-2-70b/\n"
                                       "torchrun --nproc_per_node 1 example_text_completion.py --ckpt_dir llama-2-70b/\n"
                                       "torchrun --nproc_per_node 1 ft.py --ckpt_dir Llama-2-70b-hf\n"})
    got = list(T.nproc_per_node_differs_from_checkpoint_mp(stack))
    assert [f.location.line for f in got] == [2]
